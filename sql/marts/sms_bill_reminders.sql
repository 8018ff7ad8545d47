-- mart_int.sms_bill_reminders (intermediate, not published): delivered bill_notice /
-- due_reminder messages per user, local date and bill — what user_cycle's pre_due_reminders
-- sums (local date <= due_date). A row depends only on the flags of its user and local date,
-- so an incremental build recomputes just the rows of the dates and users whose flags it
-- updated (pipelines.marts.state).
create or replace table mart_int.sms_bill_reminders as
select
    user_id,
    local_date,
    bill_id,
    count(*) as reminders
from mart.sms_message_flags
where delivery_status = 'delivered'
    and purpose in ('bill_notice', 'due_reminder')
    and bill_id is not null
group by user_id, local_date, bill_id
