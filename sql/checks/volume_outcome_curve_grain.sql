-- mart.volume_outcome_curve has one row per score band, reminders bucket and outcome.
select count(*) as duplicate_keys
from (
    select score_band, reminders_bucket, outcome
    from mart.volume_outcome_curve
    group by score_band, reminders_bucket, outcome
    having count(*) > 1
)
