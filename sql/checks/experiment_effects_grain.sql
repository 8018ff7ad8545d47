-- mart.experiment_effects has one row per experiment, arm (other than control) and outcome.
select count(*) as duplicate_keys
from (
    select experiment_id, arm, outcome
    from mart.experiment_effects
    group by experiment_id, arm, outcome
    having count(*) > 1
)
