-- The ingest schema: file ledger, quarantine and the file stat cache.
create schema if not exists ingest
