-- Complaints in scope per calendar month, score band ('?' = unknown user), the rule they are
-- attributed to, and whether they came through the regulator. Attribution reads the given or
-- classified category of mart.complaints_classified, first match wins:
--   sms_marketing about an opt-out or missing consent (退订, 同意, 授权) -> compliance;
--   sms_marketing, sms_night or sms_frequency about the user's own settings (设置, 关闭, 关掉,
--   免打扰) -> the user's own settings;
--   collection_conduct or sms_frequency about a bill already repaid (已还, 已经还, 还清, 结清)
--   -> after settlement;
--   sms_duplicate -> duplicates, sms_night -> quiet hours, sms_frequency -> daily cap, the
--   other sms_marketing ones -> promotions in reminders; everything else -> none.
select
    strftime(c.local_date, '%Y-%m') as month,
    coalesce(u.score_band, '?') as band_key,
    case
        when c.category = 'sms_marketing'
            and (
                c.narrative like '%退订%' or c.narrative like '%同意%'
                or c.narrative like '%授权%'
            )
            then 'compliance'
        when c.category in ('sms_marketing', 'sms_night', 'sms_frequency')
            and (
                c.narrative like '%设置%' or c.narrative like '%关闭%'
                or c.narrative like '%关掉%' or c.narrative like '%免打扰%'
            )
            then 'user_settings'
        when c.category in ('collection_conduct', 'sms_frequency')
            and (
                c.narrative like '%已还%' or c.narrative like '%已经还%'
                or c.narrative like '%还清%' or c.narrative like '%结清%'
            )
            then 'after_settlement'
        when c.category = 'sms_duplicate' then 'duplicates'
        when c.category = 'sms_night' then 'quiet_hours'
        when c.category = 'sms_frequency' then 'daily_cap'
        when c.category = 'sms_marketing' then 'promo'
        else 'none'
    end as rule_group,
    c.source = 'regulator' as is_regulator,
    count(*) as complaints
from mart.complaints_classified as c
left join core.users as u
    on u.user_id = c.user_id
where c.local_date between $start and $end
    and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], u.score_band))
    and (
        $experiment is null or c.user_id in (
            select user_id from core.experiment_assignments
            where experiment_id = $experiment
        )
    )
group by all
order by all
