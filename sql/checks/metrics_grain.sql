-- mart.metrics has one row per metric, grain, period and segment.
select count(*) as duplicate_keys
from (
    select metric, grain, period, segment
    from mart.metrics
    group by metric, grain, period, segment
    having count(*) > 1
)
