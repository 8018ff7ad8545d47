-- The alerts schema: incident state kept across runs and mart rebuilds (never dropped by a build).
create schema if not exists alerts
