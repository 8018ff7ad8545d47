-- mart.complaints_classified: every complaint with its given or classified category.
-- An empty category is the first rule of metrics.md whose keyword occurs in the narrative;
-- a missing narrative classifies as 'other'. SMS complaints: category starts with 'sms_'.
create or replace table mart.complaints_classified as
with
source as (
    select
        complaint_id,
        user_id,
        received_at,
        source,
        category,
        narrative,
        status,
        resolved_at
    from core.complaints
),

renamed as (
    select
        complaint_id,
        user_id,
        received_at,
        cast(received_at at time zone 'Asia/Shanghai' as date) as local_date,
        source,
        nullif(trim(category), '') as given_category,
        narrative,
        status,
        resolved_at
    from source
),

classified as (
    select
        renamed.*,
        coalesce(
            given_category,
            case
                when narrative like '%半夜%' or narrative like '%深夜%'
                    or narrative like '%凌晨%' or narrative like '%夜里%'
                    or narrative like '%睡觉%'
                    then 'sms_night'
                when narrative like '%重复%' or narrative like '%连发%'
                    or narrative like '%一样的短信%'
                    then 'sms_duplicate'
                when narrative like '%营销%' or narrative like '%广告%'
                    or narrative like '%推销%' or narrative like '%促销%'
                    then 'sms_marketing'
                when narrative like '%催收%' or narrative like '%威胁%'
                    or narrative like '%通讯录%' or narrative like '%上门%'
                    then 'collection_conduct'
                when narrative like '%短信%' or narrative like '%频繁%'
                    or narrative like '%太多%' or narrative like '%轰炸%'
                    or narrative like '%骚扰%'
                    then 'sms_frequency'
                when narrative like '%手续费%' or narrative like '%利息%'
                    or narrative like '%服务费%' or narrative like '%违约金%'
                    then 'fees'
                when narrative like '%退款%' or narrative like '%退货%'
                    then 'refund'
                when narrative like '%征信%'
                    then 'credit_report'
                else 'other'
            end
        ) as category
    from renamed
),

final as (
    select
        complaint_id,
        user_id,
        received_at,
        local_date,
        source,
        category,
        given_category is not null as category_was_given,
        substr(category, 1, 4) = 'sms_' as is_sms,
        narrative,
        status,
        resolved_at,
        case
            when status = 'resolved' and resolved_at is not null
                then (epoch(resolved_at) - epoch(received_at)) / 3600.0
        end as resolution_hours
    from classified
)

select * from final
