-- What the rules found: one row per message behind a rule (message_id null for stale_source).
create or replace temp table alert_hits (
    kind VARCHAR,
    subject VARCHAR,
    message_id VARCHAR,
    sent_at TIMESTAMPTZ,
    user_id VARCHAR,
    template_code VARCHAR,
    provider VARCHAR
)
