-- mart.user_cycle has one row per bill.
select count(*) as duplicate_bill_ids
from (select bill_id from mart.user_cycle group by bill_id having count(*) > 1)
