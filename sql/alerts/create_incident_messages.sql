-- alerts.incident_messages: the messages behind each incident (the compliance drill-down).
create table if not exists alerts.incident_messages (
    incident_id BIGINT,
    message_id VARCHAR,
    sent_at TIMESTAMPTZ,
    user_id VARCHAR,
    template_code VARCHAR,
    provider VARCHAR
)
