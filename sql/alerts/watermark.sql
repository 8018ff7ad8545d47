-- Where this evaluation starts: the newest ledger loaded_at the previous one saw (null: never).
select max(loaded_through) as since, count(*) = 0 as first_load
from alerts.evaluations
