-- alerts.incidents: one row per incident; opens once, updated while it continues, resolves
-- after a quiet interval. first_seen / last_seen are data times (the sends behind it; for
-- stale_source the evaluations that found the source stale); opened_at / resolved_at wall clock.
create table if not exists alerts.incidents (
    incident_id BIGINT,
    kind VARCHAR,
    subject VARCHAR,
    status VARCHAR,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    messages BIGINT,
    users BIGINT,
    templates VARCHAR[],
    provider VARCHAR,
    hours BIGINT,
    notify BOOLEAN,
    opened_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ,
    resolved_at TIMESTAMPTZ,
    opened_by VARCHAR,
    resolved_by VARCHAR
)
