-- Rows that broke the contract: where they came from, the masked raw row, and why.
create table if not exists ingest.quarantine (
    source varchar not null,
    dt date not null,
    path varchar not null,
    row_number bigint not null,
    raw_row varchar,
    reason_code varchar not null,
    message varchar,
    run_id varchar
)
