-- mart.sms_non_permitted: the marketing messages sent without permission (after the user's
-- opt-out or without marketing consent), one row each, for the dashboard's list of them; a
-- small slice of mart.sms_message_flags.
create or replace table mart.sms_non_permitted as
select
    message_id,
    user_id,
    template_code,
    sent_at,
    local_date,
    is_after_opt_out,
    is_marketing_without_consent
from mart.sms_message_flags
where is_after_opt_out or is_marketing_without_consent
