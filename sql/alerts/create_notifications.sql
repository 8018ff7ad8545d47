-- alerts.notifications: one row per (incident event, webhook endpoint). The endpoint is kept
-- without its query string (robot tokens live there); endpoint_hash finds the configured URL
-- again for a retry.
create table if not exists alerts.notifications (
    notification_id BIGINT,
    incident_id BIGINT,
    event VARCHAR,
    endpoint VARCHAR,
    endpoint_hash VARCHAR,
    format VARCHAR,
    body VARCHAR,
    status VARCHAR,
    attempts INTEGER,
    last_error VARCHAR,
    created_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ,
    run_id VARCHAR
)
