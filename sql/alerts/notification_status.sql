-- Notifications by status.
select status, count(*) as n
from alerts.notifications
group by status
