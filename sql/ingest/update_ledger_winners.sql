-- After a core merge: how many rows of each touched file (temp table touched) are the current
-- winner of their key; the remaining valid rows are superseded copies.
with
winners as (
    select c._file as path, count(*) as n
    from core_rows as c
    group by c._file
),

settled as (
    select t.path, coalesce(w.n, 0) as n
    from touched as t
    left join winners as w using (path)
)

update ingest.file_ledger as l
set
    rows_loaded = settled.n,
    rows_superseded = l.rows_read - l.rows_quarantined - settled.n
from settled
where l.path = settled.path
