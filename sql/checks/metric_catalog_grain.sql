-- mart.metric_catalog has one row per metric; every metric of mart.metrics is in it, with
-- the same grain.
select
    (
        select count(*)
        from (select metric from mart.metric_catalog group by metric having count(*) > 1)
    ) as duplicate_metrics,
    (
        select count(*)
        from (
            select distinct m.metric, m.grain
            from mart.metrics as m
            anti join mart.metric_catalog as c
                on c.metric = m.metric and c.grain = m.grain
        )
    ) as metrics_not_in_catalog
