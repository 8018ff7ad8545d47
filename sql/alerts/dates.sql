-- The loaded dates and the 8 days before each: the trailing 7-day baselines need them.
create or replace temp table alert_dates as
select distinct alert_window.local_date - cast(back.n as INTEGER) as local_date
from alert_window
cross join (select unnest(range(0, 9)) as n) as back
