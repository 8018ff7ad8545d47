-- The local dates this run loaded: the dt of every ledger file loaded since the last evaluation.
create or replace temp table alert_window as
select distinct dt as local_date
from ingest.file_ledger
where
    status = 'loaded'
    and ($since::TIMESTAMPTZ is null or loaded_at > $since::TIMESTAMPTZ)
