-- Rows of the checked batch that broke a rule.
insert into ingest.quarantine
select
    $source as source,
    _dt as dt,
    _file as path,
    _row as row_number,
    raw_row,
    reason_code,
    message,
    $run_id as run_id
from checked
where reason_code is not null
