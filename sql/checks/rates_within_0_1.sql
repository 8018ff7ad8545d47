-- Shares lie in [0, 1] (a rounding margin of 1e-9): the metrics whose catalog unit is a share,
-- the rates and Wilson interval of mart.volume_outcome_curve, and the arm rates and p-values
-- of mart.experiment_effects. Null (undefined) values are not counted.
select
    (
        select count(*)
        from mart.metrics as m
        inner join mart.metric_catalog as c
            on c.metric = m.metric and c.grain = m.grain
        where
            c.unit = 'share 0-1'
            and (m.value < -1e-9 or m.value > 1 + 1e-9)
    ) as metrics_outside,
    (
        select count(*)
        from mart.volume_outcome_curve
        where
            least(rate, ci_low, ci_high) < -1e-9
            or greatest(rate, ci_low, ci_high) > 1 + 1e-9
    ) as volume_outcome_curve_outside,
    (
        select count(*)
        from mart.experiment_effects
        where
            least(rate_arm, rate_control, p_value) < -1e-9
            or greatest(rate_arm, rate_control, p_value) > 1 + 1e-9
    ) as experiment_effects_outside
