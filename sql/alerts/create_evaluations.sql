-- alerts.evaluations: one row per evaluation that had something to look at; loaded_through
-- (the newest ledger loaded_at it saw) is where the next evaluation starts.
create table if not exists alerts.evaluations (
    evaluation_id VARCHAR,
    run_id VARCHAR,
    evaluated_at TIMESTAMPTZ,
    loaded_through TIMESTAMPTZ,
    data_now TIMESTAMPTZ,
    first_load BOOLEAN,
    window_dates BIGINT,
    hits BIGINT,
    opened BIGINT,
    resolved BIGINT,
    seconds DOUBLE
)
