"""Every word the dashboard shows, in Chinese and English, from one place.

- `t(key, **fmt)`: a text of the page (titles, captions, axis titles) in the current language.
- `code(kind, value)`: the label of a code the data carries (category, complaint_source,
  data_source, purpose, arm, rule, provider, flag, reason_code, outcome, ...), the same on every
  page; `codes(kind)` lists a kind's codes in a fixed order (the order colours follow, see
  dashboard/format.py).
- `col(name)`: the header of a table column.
- `sandbox_message(text)`: the SQL sandbox's refusals and errors.
"""

from __future__ import annotations

import re

import streamlit as st

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"

L: dict[str, tuple[str, str]] = {
    # app and filters
    "app_title": ("先享后付 · 短信权衡驾驶舱", "Pay-later · messaging trade-off cockpit"),
    "language": ("语言", "Language"),
    "filters": ("筛选", "Filters"),
    "date_range": ("日期范围", "Date range"),
    "score_band": ("评分等级", "Score band"),
    "experiment": ("实验", "Experiment"),
    "all": ("全部", "All"),
    "as_of_caption": (
        "数据截至 {as_of} · 版本 {version}",
        "Data as of {as_of} · version {version}",
    ),
    "no_data": (
        "尚未发布数据库：{path}。请先运行 `nudgescope run`。",
        "No published database at {path} yet. Run `nudgescope run` first.",
    ),
    "empty": ("所选范围内没有数据。", "No data in the selected range."),
    "download_csv": ("下载数据 (CSV)", "Download data (CSV)"),
    "filters_apply": ("适用筛选：{which}", "Filters applied: {which}"),
    "filter_date": ("日期", "date"),
    "filter_band": ("评分等级", "score band"),
    "filter_experiment": ("实验", "experiment"),
    "band_fallback": (
        "该指标未按评分等级发布，显示全部用户。",
        "This metric is not published per score band; showing all accounts.",
    ),
    # units and shared words (axis titles say their unit: t("unit_...") )
    "unit_pp": ("个百分点", "pp"),
    "unit_pct": ("%", "%"),
    "unit_count": ("条", "count"),
    "unit_accounts": ("户", "accounts"),
    "unit_yuan": ("元", "yuan"),
    "unit_hours": ("小时", "hours"),
    "unit_per_month": ("每月", "per month"),
    "unit_per_10k": ("每万户", "per 10k accounts"),
    "unit_per_100k_sms": ("每十万条短信", "per 100k messages"),
    "unit_per_1k_sms": ("每千条营销短信", "per 1k marketing messages"),
    "unit_messages": ("条", "messages"),
    "unit_per_day": ("每日", "per day"),
    "unit_msgs_per_day": ("条/日", "a day"),
    "zone_short": ("北京时间", "Asia/Shanghai"),
    "too_few": ("样本不足", "too few"),
    "too_few_n": ("样本不足（n = {n}）", "too few (n = {n})"),
    "too_few_help": (
        "{basis}：分母少于 {min}，不显示比率。",
        "{basis}: fewer than {min} cases, no rate shown.",
    ),
    "too_few_note": (
        "分母少于 {min} 的比率显示为“样本不足”（趋势图中不画点）。",
        "Rates on fewer than {min} cases are shown as “too few” (and left out of the trends).",
    ),
    "too_few_chart_note": (
        "图中分母少于 {min} 的比率不画点（样本不足）。",
        "Ratios on fewer than {min} cases are left out of the charts (too few).",
    ),
    "filters_not_applied": ("不适用的筛选：{which}（{why}）", "Not applied: {which} ({why})"),
    "why_not_per_band": ("该数据未按评分等级发布", "not published per score band"),
    "why_not_per_experiment": ("该数据未按实验发布", "not published per experiment"),
    "why_all_users": ("该数据覆盖全部用户", "it covers every user"),
    "why_pipeline": ("本页显示整个流水线的状态", "this page shows the whole pipeline"),
    "sql_filters": (
        "侧栏筛选不作用于 SQL 查询：在查询中自行加条件。",
        "The sidebar filters do not apply to SQL queries: put conditions in the query.",
    ),
    "share_link": (
        "本页链接包含页面与筛选条件，复制浏览器地址即可分享。",
        "This page's address holds the page and its filters: copy it to share this view.",
    ),
    # pages
    "page_overview": ("总览", "Overview"),
    "page_tradeoffs": ("短信权衡", "Messaging trade-offs"),
    "page_repayment": ("还款与风险", "Repayment & risk"),
    "page_conversion": ("转化与粘性", "Conversion & stickiness"),
    "page_complaints": ("投诉与退订", "Complaints & opt-outs"),
    "page_sms": ("短信健康与合规", "SMS health & compliance"),
    "page_sql": ("SQL 查询", "SQL"),
    "page_status": ("数据状态", "Data status"),
    "page_incidents": ("事件告警", "Incidents"),
    # incidents (pipelines.alerts; dashboard/views/incidents.py)
    "inc_not_published": (
        "发布的数据库中还没有事件告警数据（运行一次 `nudgescope run` 即可生成）。",
        "The published database has no incident data yet (run `nudgescope run` once).",
    ),
    "inc_open": ("未结束事件", "Open incidents"),
    "inc_in_range": ("所选范围内事件", "Incidents in range"),
    "inc_pending": ("待重试通知", "Notifications pending"),
    "inc_failed": ("已放弃通知", "Notifications given up"),
    "inc_delivery_warning": (
        "有告警通知未送达 webhook；下次运行会重试，详见下方通知记录。",
        "Some notifications did not reach the webhook; the next run retries them (log below).",
    ),
    "inc_none": ("所选范围内没有事件。", "No incidents in the selected range."),
    "inc_list": ("事件列表（未结束的在前）", "Incidents (open first)"),
    "inc_timeline": ("事件时间线", "Incident timeline"),
    "inc_detail": ("事件详情", "Incident detail"),
    "inc_pick": ("选择事件", "Incident"),
    "inc_status": ("状态", "Status"),
    "inc_status_open": ("进行中", "open"),
    "inc_status_resolved": ("已结束", "resolved"),
    "inc_kind": ("类型", "Kind"),
    "inc_kind_duplicate_burst": ("重复短信突增", "Duplicate burst"),
    "inc_kind_night_batch": ("夜间批量发送", "Night batch"),
    "inc_kind_promo_in_service": ("服务短信夹带营销", "Promotion in service"),
    "inc_kind_after_opt_out": ("退订后营销", "Marketing after opt-out"),
    "inc_kind_over_cap_surge": ("超上限激增", "Over-cap surge"),
    "inc_kind_delivery_drop": ("送达率下降", "Delivery drop"),
    "inc_kind_stale_source": ("数据源断更", "Stale source"),
    "inc_subject": ("对象", "Subject"),
    "inc_first_seen": ("首次出现", "First seen"),
    "inc_last_seen": ("最近出现", "Last seen"),
    "inc_messages": ("短信数", "Messages"),
    "inc_users": ("受影响用户", "Users affected"),
    "inc_templates": ("模板", "Templates"),
    "inc_provider": ("通道", "Provider"),
    # an incident about all providers has messages of several: each with its count (the
    # incident's stored `provider`, the most frequent one, could be one of a tie)
    "inc_providers": ("各通道短信数：{which}", "Messages by provider: {which}"),
    "inc_subject_all": ("全部通道", "all providers"),
    "inc_hours": ("涉及小时数", "Hours"),
    "inc_sent": ("发送时间（北京时间）", "Sent (Beijing time)"),
    "inc_hour": ("小时（北京时间）", "Hour (Beijing time)"),
    "inc_span": ("首次至最近出现（北京时间）", "First to last seen (Beijing time)"),
    "inc_hourly": ("每小时短信数", "Messages per hour"),
    "inc_window": ("{first} 至 {last}（北京时间）", "{first} to {last} (Beijing time)"),
    "inc_history_note": (
        "首次加载历史数据时发现的过往事件：仅记录，未发送通知。",
        "A past incident found when history was first loaded: recorded, not notified.",
    ),
    "inc_no_messages": (
        "此事件没有关联短信（数据源断更）。",
        "No messages behind this incident (a stale source).",
    ),
    "inc_messages_behind": ("事件涉及的短信（最多 1000 条）", "Messages behind it (first 1,000)"),
    "inc_notifications": ("通知记录", "Notification log"),
    "inc_no_notifications": (
        "尚未发送通知（未设置 NUDGESCOPE_ALERT_WEBHOOK 或没有事件）。",
        "No notifications yet (NUDGESCOPE_ALERT_WEBHOOK unset, or no incident).",
    ),
    "status_alerts": (
        "告警通知：{pending} 条待重试，{failed} 条已放弃（见“事件告警”页）。",
        "Alert notifications: {pending} pending a retry, {failed} given up (see Incidents).",
    ),
    # overview
    "period_caption": (
        "本期：{period}（最近的完整月份），对比上期 {previous}",
        "Period: {period} (the latest complete month), compared with {previous}",
    ),
    "metric_of_month": ("{metric}（{month}）", "{metric} ({month})"),
    "latest_day_72h_note": (
        "{metric}：最近可得日期为 {day}（之后发出的营销短信尚未满 72 小时观察期）",
        "{metric}: latest day {day} (later marketing messages have not had their 72 hours yet)",
    ),
    "latest_month_note": (
        "{metric}：最近可得月份为 {month}（更晚的账单尚未到期或未满观察期）",
        "{metric}: latest month {month} (later bills have not yet matured)",
    ),
    "partial_title": (
        "本月至今（{month}，已过 {days}/{total} 天，未完整）",
        "Month to date ({month}, {days} of {total} days, partial)",
    ),
    "partial_note": (
        "以下为未完整月份，仅供参考，不与完整月份比较。",
        "A partial month, for reference only; not compared with complete months.",
    ),
    "overview_scope": (
        "按时还款率与 30+ 逾期率按所选评分等级计算；其余指标未按评分等级发布，显示全部用户。"
        "总览不按实验筛选（指标按全部用户发布）：实验对比见“短信权衡”页。",
        "On-time and 30+ DPD rates follow the score band; the other figures are not published "
        "per band and cover all accounts. The overview does not apply the experiment filter "
        "(metrics are published for all users): see Messaging trade-offs for the arms.",
    ),
    "no_complete_month": (
        "所选范围内没有完整月份。",
        "No complete month in the selected range.",
    ),
    "trends": ("趋势", "Trends"),
    "trends_title": (
        "完整月份趋势（每个指标独立坐标轴）",
        "Complete months (each metric on its own axis)",
    ),
    "basis": ("{month}：{num:,.0f} / {den:,.0f}", "{month}: {num:,.0f} / {den:,.0f}"),
    # metric names
    "m_active_accounts": ("活跃账户", "Active accounts"),
    "m_bnpl_gmv": ("先享后付 GMV", "Pay-later GMV"),
    "m_on_time_rate": ("按时还款率", "On-time rate"),
    "m_dpd7_rate": ("逾期 7 天+", "7+ DPD"),
    "m_dpd30_rate": ("逾期 30 天+", "30+ DPD"),
    "m_dpd90_rate": ("逾期 90 天+", "90+ DPD"),
    "m_fpd30_rate": ("首期逾期 30+", "First-payment default (30+)"),
    "m_cure_rate_30": ("30 天内治愈率", "Cure rate (within 30 days)"),
    "m_dpd30_balance_ratio": ("30+ 余额占比", "30+ balance ratio"),
    "m_complaints_per_10k_active": ("每万活跃账户投诉", "Complaints per 10k accounts"),
    "m_sms_per_active_account": ("每户月均短信", "SMS per account a month"),
    "m_opt_outs": ("退订", "Opt-outs"),
    "m_complaints": ("投诉", "Complaints"),
    "m_sms_complaints_per_100k_sms": ("每十万短信的短信投诉", "SMS complaints per 100k messages"),
    "m_opt_outs_per_1k_marketing_sms": ("每千条营销短信退订", "Opt-outs per 1k marketing messages"),
    "m_complaint_resolution_hours_p50": ("投诉处理时长中位数", "Median resolution time"),
    "m_checkout_sessions": ("结账会话", "Checkout sessions"),
    "m_checkout_conversion_rate": ("结账转化率", "Checkout conversion"),
    "m_bnpl_take_rate": ("先享后付使用率", "Pay-later take rate"),
    "m_marketing_sms_conversion_72h": ("营销短信 72 小时转化", "Marketing-SMS conversion (72 h)"),
    "m_bnpl_active_users": ("先享后付活跃用户", "Pay-later active users"),
    "m_bnpl_orders": ("先享后付订单", "Pay-later orders"),
    "m_bnpl_repeat_rate": ("次月复购率", "Repeat rate (next month)"),
    "m_dau_mau_ratio": ("DAU/MAU", "DAU/MAU"),
    "m_sms_sent": ("短信发送量", "Messages sent"),
    "m_sms_delivery_rate": ("送达率", "Delivery rate"),
    # the unit of each metric, for axis titles (charts.axis_title(t("m_x"), t("u_x")))
    "u_active_accounts": ("户", "accounts"),
    "u_bnpl_gmv": ("元", "yuan"),
    "u_on_time_rate": ("% 到期账单", "% of bills due"),
    "u_dpd7_rate": ("% 满 7 天账单", "% of bills 7+ days past due date"),
    "u_dpd30_rate": ("% 满 30 天账单", "% of bills 30+ days past due date"),
    "u_dpd90_rate": ("% 满 90 天账单", "% of bills 90+ days past due date"),
    "u_fpd30_rate": ("% 首期账单", "% of first bills"),
    "u_cure_rate_30": ("% 未按时账单", "% of late bills"),
    "u_dpd30_balance_ratio": ("% 余额", "% of balance"),
    "u_complaints_per_10k_active": ("件/万户/月", "per 10k accounts a month"),
    "u_sms_per_active_account": ("条/户/月", "messages per account a month"),
    "u_opt_outs": ("人/月", "per month"),
    "u_complaints": ("件/月", "per month"),
    "u_sms_complaints_per_100k_sms": ("件/十万条", "per 100k messages"),
    "u_opt_outs_per_1k_marketing_sms": ("人/千条营销短信", "per 1k marketing messages"),
    "u_complaint_resolution_hours_p50": ("小时", "hours"),
    "u_checkout_conversion_rate": ("% 结账会话", "% of sessions"),
    "u_bnpl_take_rate": ("% 已完成结账", "% of completed checkouts"),
    "u_marketing_sms_conversion_72h": ("% 已送达营销短信", "% of delivered marketing SMS"),
    "u_bnpl_active_users": ("人/月", "users a month"),
    "u_bnpl_orders": ("笔/月", "orders a month"),
    "u_bnpl_repeat_rate": ("% 当月活跃用户", "% of the month's active users"),
    "u_dau_mau_ratio": ("%", "%"),
    "u_sms_sent": ("条/日", "per day"),
    "u_sms_delivery_rate": ("% 已发送短信", "% of messages sent"),
    # outcomes and flags
    "o_on_time": ("按时还款", "On time"),
    "o_dpd30": ("逾期 30+", "30+ DPD"),
    "o_complained": ("投诉", "Complained"),
    "o_sms_complained": ("短信投诉", "SMS complaint"),
    "o_opted_out": ("退订", "Opted out"),
    "o_active_next_cycle": ("下期活跃", "Active next cycle"),
    "f_is_duplicate": ("重复发送", "Duplicate"),
    "f_is_quiet_hours": ("免打扰时段", "Quiet hours"),
    "f_is_after_opt_out": ("退订后营销", "Marketing after opt-out"),
    "f_is_over_daily_cap": ("超出每日上限", "Over daily cap"),
    "f_is_marketing_in_service": ("服务短信含营销", "Promotion in service SMS"),
    "f_is_marketing_without_consent": ("未授权营销", "Marketing without consent"),
    # trade-offs page
    "curve_title": (
        "结果 vs 到期前提醒条数（95% 置信区间）",
        "Outcome vs pre-due reminders (95% CI)",
    ),
    "outcome": ("结果", "Outcome"),
    "reminders": ("到期前提醒条数", "Pre-due reminders"),
    "rate": ("比率", "Rate"),
    "curve_scope": (
        "曲线为已发布的全部账期（不受日期/实验筛选影响），按评分等级；点击图例可隐藏等级。",
        "The curve covers all published cycles (date and experiment filters do not apply), "
        "per score band; click a legend entry to hide a band.",
    ),
    "arms_title": (
        "实验组 vs 对照组：差值与 95% 置信区间",
        "Arms vs control: difference with 95% CI",
    ),
    "no_experiment": ("没有实验结果。", "No experiment results."),
    "difference": (
        "差值（实验组 − 对照组，百分点）",
        "Difference (arm − control, percentage points)",
    ),
    "frontier_title": (
        "前沿：每期短信 vs 按时还款率（观察性）",
        "Frontier: messages per cycle vs on-time rate (observational)",
    ),
    "frontier_by_arm": ("按实验组", "by arm"),
    "frontier_by_bucket": ("按提醒条数分组", "by reminders bucket"),
    "sms_per_cycle": ("每期短信", "Messages per cycle"),
    "complaint_rate": ("投诉率", "Complaint rate"),
    "whatif": ("策略模拟", "Policy what-if"),
    "rule_compliance": (
        "拦截无授权/退订后的营销短信",
        "Block marketing after opt-out / without consent",
    ),
    "rule_user_settings": (
        "尊重用户自己的短信设置（类型、免打扰、每日上限）",
        "Honour each user's own settings (types, quiet window, daily maximum)",
    ),
    "rule_after_settlement": (
        "账单已还清后不再提醒或催收",
        "Suppress reminders and collections for settled bills",
    ),
    "hover_arm_effect": (
        "%{y}：%{x:+.1f} 个百分点（实验组 %{customdata[0]:.1%}，对照组 %{customdata[1]:.1%}，"
        "p=%{customdata[2]:.3f}）",
        "%{y}: %{x:+.1f} pp (arm %{customdata[0]:.1%} vs control %{customdata[1]:.1%}, "
        "p=%{customdata[2]:.3f})",
    ),
    "hover_frontier": (
        "%{text}：每期 %{x:.2f} 条短信，按时还款 %{y:.1%}，投诉率 %{customdata[1]:.1%}"
        "（%{customdata[0]:,} 期）",
        "%{text}: %{x:.2f} SMS per cycle, %{y:.1%} on time, complaint rate "
        "%{customdata[1]:.1%} (n=%{customdata[0]:,})",
    ),
    "colon": ("：", ": "),
    "due_month_running": (
        "{month}尚未结束：其按时还款率只计 {as_of} 之前到期的账单"
        "（本月 {total} 天中的前 {days} 天）。",
        "{month} is still running: its on-time rate counts only the bills due before {as_of} "
        "(the first {days} of its {total} days).",
    ),
    "partial_left_out_monthly": (
        "{month}未完整（已过 {days}/{total} 天）：不计入按月指标。",
        "{month} is partial ({days} of {total} days): left out of the monthly figures.",
    ),
    "partial_left_out": (
        "{month}未完整（已过 {days}/{total} 天）：不计入比率；柱状图中该月只含已过的天数。",
        "{month} is partial ({days} of {total} days): left out of the rates; its bars count "
        "only those days.",
    ),  # a label and its value in a chart's hover
    "rule_duplicates": ("去重（10 分钟窗口）", "Suppress duplicates (10-minute window)"),
    "rule_quiet_hours": (
        "免打扰时段（22:00–08:00）不发送",
        "No sending in quiet hours (22:00–08:00)",
    ),
    "rule_reminder_cap": (
        "到期前提醒上限（账单通知之外）",
        "Maximum pre-due reminders (besides the bill notice)",
    ),
    "rule_daily_cap": ("每用户每日上限", "Daily cap per user"),
    "rule_promo": ("提醒短信不含营销内容", "No promotions in reminders"),
    "no_limit": ("不限", "no limit"),
    "rule": ("规则", "Rule"),
    "enabled": ("启用", "On"),
    "alone": ("单独执行可减少", "Removes on its own"),
    "combined": ("组合策略中减少（去重计）", "Removed in the combined policy (each once)"),
    "rewritten": ("改写（保留提醒，去掉营销）", "Rewritten (reminder kept, promotion dropped)"),
    "total": ("合计", "Total"),
    "messages_in_scope": ("范围内短信", "Messages in scope"),
    "messages_removed": ("减少短信", "Messages removed"),
    "exp_on_time": ("按时还款变化（笔）", "Change in on-time repayments"),
    "exp_complaints": ("投诉变化（件）", "Change in complaints"),
    "exp_opt_outs": ("退订变化（人）", "Change in opt-outs"),
    "assumptions": ("假设", "Assumptions"),
    "assumption_promo": (
        "去掉提醒中的营销内容不减少短信，只去掉其营销投诉风险。",
        "Dropping promotions from reminders removes no message, only its marketing-complaint risk.",
    ),
    "template": ("模板", "Template"),
    "flagged": ("问题短信", "Flagged messages"),
    "period_line": (
        "期间 {start} 至 {end}（{n} 个月，涉及 {k} 个自然月）：以下为整个期间的合计，另按月列出。",
        "Period {start} to {end} ({n} months, {k} calendar months): totals over the whole "
        "period, and per month below.",
    ),
    "per_band_caps": ("按评分等级分别设定提醒上限", "Reminder cap per score band"),
    "d_current": ("现状（不做改变）", "Current policy (no change)"),
    "d_compliance": ("拦截违规营销", "compliance block"),
    "d_duplicates": ("去重", "dedupe"),
    "d_user_settings": ("尊重用户设置", "user settings honoured"),
    "d_after_settlement": ("还清后不发", "no messages after settlement"),
    "d_quiet_hours": ("夜间不发", "quiet hours"),
    "d_promo": ("提醒去营销", "clean reminders"),
    "d_reminder_cap": ("到期提醒 ≤ {k} 条", "≤ {k} reminders"),
    "d_band_caps": ("分等级提醒 {caps}", "reminders by band {caps}"),
    "d_daily_cap": ("每日 ≤ {n} 条", "≤ {n} a day"),
    "your_policy": ("你的策略", "Your policy"),
    "w_regulator_complaint": ("每件监管投诉（成本）", "per regulator complaint (cost)"),
    "w_violation": (
        "每条违规短信（违规营销、违背用户设置；成本）",
        "per compliance violation (unpermitted marketing, against user settings; cost)",
    ),
    "ci_help": ("95% 区间 {lo} ~ {hi}", "95% interval {lo} to {hi}"),
    "ci_short": ("95% 区间 {lo} ~ {hi}", "95% interval {lo} to {hi}"),
    "of_in_scope": ("范围内 {n} 条中的 {p}", "{p} of {n} in scope"),
    "exp_violations": ("违规短信变化（条）", "Change in compliance violations"),
    "pp_line": (
        "按时还款率变化 {pp} 个百分点（pp；95% 区间 {lo} ~ {hi} pp），基于 {b} 笔到期账单。",
        "On-time rate change {pp} percentage points (pp; 95% interval {lo} to {hi} pp) over "
        "{b} bills due.",
    ),
    "note_no_experiment": (
        "范围内没有提醒条数不同的实验组：提醒上限的效果无法估计。",
        "No experiment with arms of different reminder cadences in scope: the reminder cap's "
        "effect cannot be estimated.",
    ),
    "note_cap_effect_not_estimated": (
        "提醒上限对还款、投诉和退订的效果未估计（范围内没有实验），只计算了减少的短信。",
        "The reminder cap's effect on repayment, complaints and opt-outs is not estimated (no "
        "experiment in scope); only its messages are counted.",
    ),
    "whole_period": ("整个期间", "Whole period"),
    "interval95": ("95% 区间", "95% interval"),
    "out_on_time_repayments": ("按时还款（笔）", "On-time repayments"),
    "out_dpd30_bills": ("30+ 逾期账单（笔）", "30+ DPD bills"),
    "out_complaints": ("投诉（件）", "Complaints"),
    "out_regulator_complaints": ("其中监管投诉（件）", "of which via the regulator"),
    "out_opt_outs": ("退订（人）", "Opt-outs"),
    "out_violations": ("违规短信（条）", "Compliance violations"),
    "out_messages": ("短信（条）", "Messages"),
    "out_sms_cost_yuan": ("短信成本（元）", "SMS cost (yuan)"),
    "out_net_value_yuan": ("净价值（元）", "Net value (yuan)"),
    "outcomes_caption": (
        "相对现状的预期变化，取整到整数；各月的区间见 CSV。区间包含 0 的变化与“没有变化”无法区分"
        "（例如提醒上限对投诉的效果，符号可能随抽样而变）。30+ 逾期账单只展示，不计入净价值。",
        "Expected change against the current policy, rounded to whole units; each month's "
        "interval is in the CSV. A change whose interval contains 0 cannot be told from no "
        "change (e.g. a reminder cap's effect on complaints, whose sign can flip by chance). "
        "30+ DPD bills are shown but not priced in the net value.",
    ),
    "search_title": ("策略搜索", "Policy search"),
    "search_caption": (
        "搜索全部 {n} 种组合（每条规则开/关 × 每日上限 × 每个评分等级的提醒上限），按当前权重排序；"
        "每行是该规则组合下的最佳设定。",
        "Searched all {n} combinations (each rule on or off × daily cap × a reminder cap per "
        "score band) under the weights above; each row is the best setting of its rule set.",
    ),
    "best_line": ("最佳：{p}，净价值 {v} 元。", "Best: {p}, net value {v} yuan."),
    "tied_line": (
        "另有 {n} 个策略与它的差值 95% 区间包含 0：数据无法区分它们（标 ≈）。",
        "{n} other policies differ from it by an amount whose 95% interval contains 0: the "
        "data cannot tell them apart (marked ≈).",
    ),
    "clear_winner": (
        "它与其余策略的差异都超出区间。",
        "It beats every other policy beyond the interval.",
    ),
    "tied": ("无法区分", "Tied"),
    "search_limits": (
        "排名只按所列假设：每日上限删掉的提醒不计还款效果，所以很低的每日上限看起来可能过好；"
        "净价值的大小主要取决于权重（见下方敏感度）。",
        "The ranking holds under the stated assumptions only: reminders a daily cap removes are "
        "given no repayment effect, so a very low daily cap can look better than it is; the "
        "size of the net value depends mostly on the weights (sensitivity below).",
    ),
    "frontier_policy_title": (
        "有效前沿：减少短信 vs 净价值（95% 区间）",
        "Efficient frontier: messages removed vs net value (95% interval)",
    ),
    "sensitivity_title": (
        "权重敏感度：其余权重不变时，该权重在此范围内最佳策略不变",
        "Weight sensitivity: the best policy stays the same while a weight stays in this "
        "range (the others fixed)",
    ),
    "weight": ("权重", "Weight"),
    "now": ("当前值", "Now"),
    "winner_holds": ("最佳策略不变的范围", "Winner holds for"),
    "beyond": ("{x} 以上", "beyond {x}"),
    "cadence_line": (
        "提醒效果来自实验 {exp}；各组到期提醒条数（账单通知之外）：{arms}。",
        "Reminder effects from experiment {exp}; due reminders per arm (besides the bill "
        "notice): {arms}.",
    ),
    "no_arm": ("未入组", "no arm"),
    "unattributed": ("不归因于规则", "not attributed to a rule"),
    "regulator": ("监管", "Regulator"),
    "complaints_n": ("投诉数", "Complaints"),
    "diagnostics": ("诊断", "Diagnostics"),
    "arms_messages_note": (
        "提醒多的组短信总数并未多出相应条数：按时还款的账单更多，逾期后每天一条的催收短信更少，"
        "抵消了多发的提醒。",
        "Arms with more reminders send fewer extra messages than reminders: more of their "
        "bills are paid on time, so fewer bills get the daily collection messages that follow "
        "a late payment, which offsets the extra reminders.",
    ),
    "curve_diagnostic": (
        "诊断用，不用于决策：这条曲线是观察性的。逾期的人会收到更多提醒（未还款就继续提醒），"
        "按提醒条数分组的比率混入了“谁会逾期”；策略模拟只用随机实验。",
        "Diagnostic only, never a decision source: this curve is observational. Late payers "
        "get more reminders (reminders continue until paid), so the rate by reminder count "
        "mixes the reminders' effect with who pays late; the what-if uses the randomised "
        "experiment only.",
    ),
    "assumption_counting": (
        "短信减少量按发送日志精确计数：每条短信最多计一次，归入第一条命中的规则（合规、用户设置、"
        "还清后、去重、免打扰、提醒上限、每日上限）；拦截类规则先执行，上限只计算剩余短信。"
        "提醒上限 K 表示账单通知之外最多 K 条到期提醒（账单通知从不删除）。",
        "Messages removed are counted exactly from the send log: each message at most once, "
        "under the first rule that removes it (compliance, the user's own settings, after "
        "settlement, duplicates, quiet hours, reminder cap, daily cap); filters act first and "
        "the caps count what survives them. Reminder cap K means at most K due reminders up to "
        "the due date besides the bill notice (which is never removed).",
    ),
    "assumption_experiment": (
        "提醒上限对按时还款、30+ 逾期、投诉、退订的效果只来自随机实验：各组的提醒条数取该组逾期账单"
        "（收到全部提醒）最常见的条数；结果率在各组之间线性插值、超出范围取端点；条数 c > K 的账单"
        "变化为 率(K) − 率(c)。每组在某评分等级有 200 笔以上账单时按等级估计，否则合并各等级。"
        "每日上限删掉的提醒不计还款效果。",
        "The reminder cap acts on on-time repayment, 30+ DPD, complaints and opt-outs only "
        "through the randomised experiment: an arm's cadence is the most common reminder count "
        "among its late bills (they receive every reminder); outcome rates run linearly "
        "between arms and flat beyond them; bills with cadence c > K change by rate(K) − "
        "rate(c). Per score band when each arm holds 200+ bills of the band, pooled otherwise. "
        "Reminders removed by the daily cap are given no repayment effect.",
    ),
    "assumption_complaints": (
        "投诉：归因于规则的投诉（按给定或分类的类别：重复→去重，夜间→免打扰，频繁→每日上限；"
        "内容是退订后或未同意仍收到营销的营销投诉→合规，内容提到用户设置的营销/夜间/频繁投诉→用户设置，"
        "内容说已还款的催收/频繁投诉→还清后，其余营销投诉→提醒去营销）除以被标记的短信，"
        "乘以删掉的短信。监管投诉单独计算、单独定价；提醒上限的监管投诉按范围内监管投诉占比。",
        "Complaints: the complaints attributed to a rule (by given or classified category: "
        "duplicates, night → quiet hours, frequency → daily cap; marketing complaints about an "
        "opt-out or missing consent → compliance; marketing, night or frequency complaints "
        "naming the user's settings → user settings; collection or frequency complaints saying "
        "the bill was already repaid → after settlement; other marketing complaints → "
        "promotions in reminders) per flagged message, times the messages removed. Regulator "
        "complaints are counted and priced apart; for the reminder cap, at the regulator share "
        "in scope.",
    ),
    "assumption_opt_outs": (
        "退订：每条仍可退订的营销短信（不在退订之后）的退订数，乘以删掉的此类短信；每日上限按超限"
        "短信中营销短信的比例。",
        "Opt-outs: opt-outs per marketing message a user could still opt out of (not after an "
        "opt-out), times such messages removed; for the daily cap in proportion to the "
        "marketing share of over-cap messages.",
    ),
    "assumption_violations": (
        "违规：删掉的每条退订后或未同意的营销短信计一次违规（PIPL、工信部规定），不论是否引发投诉；"
        "违背用户自己设置的短信也计违规（见下）。",
        "Violations: every marketing message after an opt-out or without consent that the "
        "policy removes counts as one violation avoided (PIPL, MIIT rules), whatever its "
        "complaint rate; so does every message against the user's own settings (below).",
    ),
    "assumption_user_settings": (
        "尊重用户设置：删掉标记为“违背用户设置”的短信（用户关掉的营销或提醒、用户自己免打扰"
        "时段内的营销和提醒、超过用户自己每日上限的短信）。每条计一次违规（用户明确拒绝过，按违规"
        "权重定价），另计内容提到设置的营销/夜间/频繁类投诉，以及其中营销短信带来的退订。每日上限按"
        "实际发送记录判断：删掉当天更早的短信本可让后面的短信回到上限以内，这里不重算，计数与标记"
        "完全一致。",
        "Honouring the user's own settings removes the messages flagged against the user's "
        "settings (marketing or reminders the user switched off, marketing and reminders in "
        "the user's own quiet window, messages above the user's own daily maximum). Each "
        "counts as a violation avoided (the user refused it; priced at the violation weight), "
        "plus the marketing, "
        "night and frequency complaints whose narrative names the settings, plus opt-outs "
        "through its marketing messages. The daily maximum is judged on the log as sent: "
        "removing earlier messages of a day could bring a later one back under it; this is not "
        "re-ranked, so the count is exactly what the flag says.",
    ),
    "assumption_after_settlement": (
        "还清后不发：删掉账单还清之后发出的到期提醒和催收短信。按内容说已还款的催收/频繁类投诉"
        "定价；不是营销短信，不影响退订，也不计违规。",
        "Suppressing messages for settled bills removes due reminders and collection messages "
        "sent after their bill was settled. Priced by the collection-conduct and frequency "
        "complaints whose narrative says the bill was already repaid; they are not marketing, "
        "so they move no opt-outs, and they are not counted as violations.",
    ),
    "assumption_intervals": (
        "95% 区间：对各组比率（二项）和投诉、退订计数（泊松）用 delta 方法；只反映抽样误差，"
        "不反映假设误差。各规则的效果相加。",
        "95% intervals: delta method over the arms' rates (binomial) and the complaint and "
        "opt-out counts (Poisson); they cover sampling error, not the assumptions. Effects of "
        "different rules add up.",
    ),
    "value_weights": ("价值权重（元）", "Value weights (yuan)"),
    "w_on_time": ("每笔按时还款", "per on-time repayment"),
    "w_complaint": ("每件投诉（成本）", "per complaint (cost)"),
    "w_opt_out": ("每个退订（成本）", "per opt-out (cost)"),
    "w_message": ("每条短信（成本）", "per message (cost)"),
    "ranking": ("候选策略排名", "Candidate policies ranked"),
    "policy": ("策略", "Policy"),
    "value_yuan": ("净价值（元）", "Net value (yuan)"),
    "rank": ("排名", "Rank"),
    # repayment
    "by_due_month": ("按到期月份", "By due month"),
    "due_month": ("到期月份", "Due month"),
    "vintage_title": ("账龄曲线：30+ 逾期率", "Vintage curves: 30+ DPD rate"),
    "months_on_book": ("账龄（月）", "Months on book"),
    "cohort": ("批次", "Cohort"),
    "by_band": ("按评分等级", "By score band"),
    "repayment_rates_title": (
        "按时还款率与逾期率（按到期月份）",
        "On-time and past-due rates by due month",
    ),
    "dpd_panel": ("逾期率（7+ / 30+ / 90+）", "Past due (7+ / 30+ / 90+)"),
    "u_dpd_panel": ("% 已满期账单", "% of matured bills"),
    "by_band_scope": (
        "每个评分等级一条线，不受评分等级筛选影响。",
        "One line per score band: the band filter does not narrow this chart.",
    ),
    # conversion
    "conversion_title": (
        "结账转化率：是否提供先享后付",
        "Checkout conversion with / without pay-later",
    ),
    "offered_true": ("提供先享后付", "Pay-later offered"),
    "offered_false": ("未提供", "Not offered"),
    "stickiness_title": ("活跃与粘性（按月）", "Actives and stickiness (monthly)"),
    "retention_title": ("批次留存热力图", "Cohort retention heatmap"),
    "months_since": ("距首单月数", "Months since first order"),
    "retention": ("留存", "Retention"),
    "day": ("日期", "Day"),
    "month": ("月份", "Month"),
    # complaints
    "by_category": ("按类别", "By category"),
    "by_source": ("按来源", "By source"),
    "category": ("类别", "Category"),
    "source": ("来源", "Source"),
    "resolution_title": ("处理时长（小时）", "Resolution time (hours)"),
    "narratives": ("最新投诉原文（已脱敏）", "Recent narratives (masked)"),
    "rates_title": (
        "投诉与退订比率（按月，每个指标独立坐标轴）",
        "Complaint and opt-out rates (monthly)",
    ),
    "rates_scope": (
        "比率按全部用户发布，不受评分等级和实验筛选影响。",
        "These rates are published for all users: the score band and experiment filters do "
        "not apply to them.",
    ),
    "unit_complaints": ("件", "complaints"),
    "complaints_axis": ("投诉（件/月）", "Complaints per month"),
    "drill_title": (
        "合规追溯：投诉前收到的短信",
        "Compliance drill-down: messages before a complaint",
    ),
    "drill_intro": (
        "选择一件投诉，查看该用户在投诉前若干天收到的每条短信及其问题标记（内容已脱敏）。"
        "投诉编号保存在页面链接中。",
        "Pick a complaint to see every message its user was sent in the days before it, with "
        "the flags of each (content masked). The complaint is kept in the page's link.",
    ),
    "drill_pick": ("投诉", "Complaint"),
    "drill_user_title": ("按用户追溯", "Drill down from a user"),
    "drill_user": ("用户 ID", "User id"),
    "drill_user_until": (
        "截至所选日期范围的最后一天（{until}）。",
        "Up to the last day of the selected range ({until}).",
    ),
    "drill_days": ("投诉前天数", "Days before"),
    "drill_complaint": (
        "**{id}** · 用户 {user} · {at} · {source} · {category}",
        "**{id}** · user {user} · {at} · {source} · {category}",
    ),
    "drill_summary": (
        "投诉前 {days} 天内共 {n} 条短信，其中 {flagged} 条有问题标记。",
        "{n} messages in the {days} days before, {flagged} of them flagged.",
    ),
    "drill_no_messages": (
        "该用户在投诉前 {days} 天内没有收到短信。",
        "No messages to this user in the {days} days before.",
    ),
    # sms
    "flags_title": (
        "各类问题短信（按日，每类独立坐标轴）",
        "Flagged messages per day (each its own axis)",
    ),
    "flag_share": ("占范围内 {total} 条短信的 {share}", "{share} of the {total} messages in scope"),
    "delivery_title": ("送达与费用", "Delivery and spend"),
    "billed_segments": ("计费条数", "Billed segments"),
    "billed_help": (
        "长短信按计费条数计；含验证码短信（同样计费）。",
        "Long messages count their billed segments; verification codes included (billed too).",
    ),
    "sms_spend": ("短信费用", "SMS spend"),
    "spend_help": (
        "计费条数 × 每条 {price} 元（设置 NUDGESCOPE_SMS_PRICE_PER_SEGMENT）。",
        "Billed segments × {price} yuan per segment (setting NUDGESCOPE_SMS_PRICE_PER_SEGMENT).",
    ),
    "basis_plain": ("{num} / {den}", "{num} / {den}"),
    "delivery_scope": (
        "送达率 = 已送达 / 发送（不含验证码）；发送少于 {min} 条的服务商或日期不显示送达率。",
        "Delivery rate = delivered / sent (verification codes left out); not shown for a "
        "provider or day with fewer than {min} messages.",
    ),
    "delivery_chart_title": (
        "各服务商每日送达率与费用",
        "Delivery rate and spend per provider, daily",
    ),
    "unit_yuan_per_day": ("元/日", "yuan a day"),
    "unit_messages_count": ("短信数", "Messages"),
    "incidents_chart_title": (
        "重复发送事件（气泡大小 = 事件内短信数）",
        "Duplicate incidents (bubble size = messages in the incident)",
    ),
    "incident": ("事件", "Incident"),
    "minutes_unit": ("分钟", "minutes"),
    "users_unit": ("位用户", "users"),
    "incidents_scope": (
        "重复发送事件表未按评分等级和实验发布：只适用日期筛选。",
        "The incidents table is not published per score band or experiment: only the date "
        "filter applies.",
    ),
    "worst_templates_chart": (
        "问题短信最多的模板（颜色 = 用途）",
        "Templates with most flagged messages (colour = purpose)",
    ),
    "weekday_1": ("周一", "Mon"),
    "weekday_2": ("周二", "Tue"),
    "weekday_3": ("周三", "Wed"),
    "weekday_4": ("周四", "Thu"),
    "weekday_5": ("周五", "Fri"),
    "weekday_6": ("周六", "Sat"),
    "weekday_7": ("周日", "Sun"),
    "incidents_title": ("重复发送事件时间线", "Duplicate incidents timeline"),
    "incident_start": ("开始时间（北京时间）", "Started (Asia/Shanghai)"),
    "duplicate_messages": ("重复短信", "Duplicate messages"),
    "duplicate_rate": ("重复率", "Duplicate rate"),
    "heatmap_title": (
        "发送时间分布：小时 × 星期（北京时间）",
        "Messages by hour × weekday (Asia/Shanghai)",
    ),
    "hour": ("小时", "Hour"),
    "weekday": ("星期", "Weekday"),
    "worst_templates": ("问题最多的模板", "Worst templates"),
    "non_permitted": ("退订后或未授权的营销短信", "Marketing after opt-out or without consent"),
    # SMS health: the gateways' receipts (dashboard/views/gateway.py)
    "gw_title": ("网关回执对账", "Gateway receipts vs the send log"),
    "gw_no_receipts": (
        "所选范围内没有网关回执（sms_receipts 未加载）。",
        "No gateway receipts in the selected range (sms_receipts not loaded).",
    ),
    "gw_receipts_through": (
        "回执已加载至 {day}：之后各日的短信尚无回执，暂不计入本节"
        "（否则会被误读为“无回执”或网关问题减少）。",
        "Receipts are loaded through {day}: the days after it are left out of this section "
        "until their receipts arrive (their messages would read as “no receipt” and the "
        "gateway-side problems as falling to zero).",
    ),
    "gw_log_messages": ("发送日志短信", "Messages in the log"),
    "gw_receipts": ("网关回执", "Receipts"),
    "gw_matched_receipts": ("已匹配回执", "Matched receipts"),
    "gw_unmatched_receipts": ("无法匹配的回执", "Receipts matching nothing"),
    "gw_log_messages_without_receipt": ("无回执的日志短信", "Logged, no receipt"),
    "gw_gateway_only_sends": ("日志未记录的发送", "Sends the log does not know"),
    "gw_gateway_only_duplicates": ("其中重复", "of which duplicates"),
    "gw_contradicted": ("回执与日志矛盾", "Receipt contradicts the log"),
    "gw_log_segments": ("日志计费条数", "Segments in the log"),
    "gw_billed_segments": ("网关计费条数", "Segments billed by the gateway"),
    "gw_provider": ("通道", "Provider"),
    "gw_daily_title": ("网关侧问题（按日）", "Gateway-side problems per day"),
    "gw_caption": (
        "“日志未记录的发送”：网关回执显示的重发（如超时后重试），已计入所有指标；"
        "“矛盾”：日志记为送达而回执为失败。",
        "“Sends the log does not know”: retries only the gateways' receipts show (e.g. after "
        "a timeout); they count in every metric. “Contradicts”: logged delivered, the receipt "
        "says failed.",
    ),
    "gateway_duplicates": ("网关侧重复", "Gateway-side duplicates"),
    "no_incidents": (
        "所选范围内没有重复发送事件。",
        "No duplicate incidents in the selected range.",
    ),
    # sms: messages that should never have gone out, and the preference centre
    # (dashboard/views/preferences.py)
    "f_is_after_settlement": ("已结清仍提醒/催收", "After settlement"),
    "f_is_collection_before_due": ("未逾期即催收", "Collection before due"),
    "f_is_against_preference": ("违背用户设置", "Against the user's settings"),
    "never_sent": ("本不该发出的短信", "Messages that should never have gone out"),
    "never_sent_title": (
        "本不该发出的短信（按日）",
        "Messages that should never have gone out, per day",
    ),
    "never_sent_templates": ("本不该发出的短信：按模板", "Should never have gone out, by template"),
    "never_sent_list": (
        "最近的本不该发出的短信（至多 200 条）",
        "Latest such messages (200 at most)",
    ),
    "pref_centre": ("用户偏好中心", "Preference centre"),
    "no_preferences": (
        "没有用户短信设置数据（可选数据源 sms_preferences 未提供），“违背用户设置”在各处均为 0。",
        "No message settings of users loaded (the optional source sms_preferences was not "
        "delivered): “against the user's settings” is 0 everywhere.",
    ),
    "pref_users_changed": ("修改过设置的用户", "Users who changed a setting"),
    "pref_changes": ("设置变更次数", "Setting changes"),
    "pref_against": ("违背生效设置的短信", "Messages against a setting in force"),
    "pref_changes_title": ("用户的选择（按变更类型）", "What users chose (by kind of change)"),
    "pref_in_force_title": ("当前生效的设置（用户数）", "Settings in force now (users)"),
    "pref_before_after_title": (
        "首次设置前后 30 天（每千用户）",
        "30 days before vs after the first choice (per 1,000 users)",
    ),
    "pref_before_after_caption": (
        "用户：首次设置日期在所选范围内、前后 30 天都在数据范围内的 {n} 位用户（不含设置当天）。"
        "柱上为每千用户比率，括号内为件数。违背设置的短信在设置前无从谈起，不在图中："
        "见本节顶部的“违背生效设置的短信”。",
        "Users: the {n} users whose first choice falls in the selected range and whose 30 days "
        "before and after are both inside the data (the day of the choice itself excluded). "
        "Each bar shows the rate per 1,000 users and, in brackets, the count behind it. Messages "
        "against a setting cannot happen before there is one, so they are not in the chart: see "
        "“Messages against a setting in force” at the top of this section.",
    ),
    "pref_no_complete": (
        "所选范围内没有前后 30 天数据都完整的首次设置用户。",
        "No user in the selected range has a first choice with 30 complete days before and after.",
    ),
    "pref_period": ("时段", "Period"),
    "pref_before": ("设置前", "Before"),
    "pref_after": ("设置后", "After"),
    "pref_measure": ("指标", "Measure"),
    "pref_per_1k": ("每千用户", "Per 1,000 users"),
    "pref_messages_per_user": (
        "首次设置后 30 天每用户短信（对比设置前 30 天）",
        "Messages per user in the 30 days after the first choice (vs the 30 days before)",
    ),
    "pm_messages": ("短信", "Messages"),
    "pm_against": ("违背设置的短信", "Against their settings"),
    "pm_complaints": ("投诉", "Complaints"),
    "pm_sms_complaints": ("短信投诉", "SMS complaints"),
    "pm_opt_outs": ("退订", "Opt-outs"),
    "pc_marketing_off": ("关闭营销短信", "Marketing off"),
    "pc_marketing_on": ("重新开启营销短信", "Marketing back on"),
    "pc_reminders_off": ("关闭还款提醒", "Reminders off"),
    "pc_reminders_on": ("重新开启还款提醒", "Reminders back on"),
    "pc_quiet_window_set": ("设置免打扰时段", "Quiet window set"),
    "pc_quiet_window_changed": ("修改免打扰时段", "Quiet window changed"),
    "pc_quiet_window_cleared": ("取消免打扰时段", "Quiet window cleared"),
    "pc_daily_max_set": ("设置每日上限", "Daily maximum set"),
    "pc_daily_max_changed": ("修改每日上限", "Daily maximum changed"),
    "pc_daily_max_cleared": ("取消每日上限", "Daily maximum cleared"),
    "pc_unchanged": ("保存但未改动", "Saved, nothing changed"),
    "pf_marketing_off": ("营销短信已关闭", "Marketing off"),
    "pf_reminders_off": ("还款提醒已关闭", "Reminders off"),
    "pf_quiet_window": ("有免打扰时段", "Own quiet window"),
    "pf_daily_max": ("有每日上限", "Own daily maximum"),
    "pref_setting": ("设置", "Setting"),
    "pref_users": ("用户数", "Users"),
    # sql
    "sql_intro": (
        "在已发布数据库上只读查询：只允许单条 SELECT / EXPLAIN；禁止文件、网络、扩展、ATTACH、"
        "COPY/EXPORT 和修改设置；内存上限 {mem}，超时 {timeout} 秒，最多 {rows} 行。"
        "带时区的时间以北京时间（UTC+8）显示。",
        "Read-only queries on the published database: one SELECT / EXPLAIN at a time; no file, "
        "network or extension access, no ATTACH, COPY/EXPORT or settings changes; memory cap "
        "{mem}, time limit {timeout} s, at most {rows} rows. Times with a zone are shown in "
        "Asia/Shanghai (UTC+8).",
    ),
    "schema_browser": ("表结构", "Schema"),
    "column": ("列", "Column"),
    "type": ("类型", "Type"),
    "examples": ("示例查询", "Example queries"),
    "ex_on_time_by_band": ("各评分等级按时还款率", "On-time rate by band"),
    "ex_flags_by_purpose": ("各用途的问题短信", "Flagged messages by purpose"),
    "ex_reminders_vs_on_time": ("提醒条数与按时还款", "Reminders vs on-time (user_cycle)"),
    "ex_experiment_effects": ("实验效果", "Experiment effects"),
    "ex_quarantine_reasons": ("隔离原因", "Quarantine reasons"),
    "ex_publish_metadata": ("发布元数据", "Publish metadata"),
    "query": ("SQL", "SQL"),
    "run": ("运行", "Run"),
    "rows_returned": ("{n} 行，用时 {s:.2f} 秒", "{n} rows in {s:.2f} s"),
    "refused": ("已拒绝：{msg}", "Refused: {msg}"),
    "timeout": ("已中断：{msg}", "Interrupted: {msg}"),
    "sql_error": ("查询出错：{msg}", "Query error: {msg}"),
    # status
    "as_of": ("数据截至", "As of"),
    "published_at": ("发布时间", "Last publish"),
    "published_at_zone": ("发布时间（北京时间）", "Last publish (Asia/Shanghai)"),
    "run_id": ("运行 ID", "Run id"),
    "data_version": ("数据版本", "Data version"),
    "freshness": ("各数据源新鲜度", "Freshness per source"),
    "ledger": ("文件台账", "File ledger"),
    "quarantine": ("隔离行（按数据源与原因）", "Quarantined rows (by source and reason)"),
    "quarantine_rows": ("隔离行样例", "Quarantined rows (latest)"),
    "no_files": ("以下数据源还没有任何文件：{sources}", "No files yet for: {sources}"),
    "failed_files": ("{n} 个文件读取失败", "{n} files failed to load"),
    "rows_per_source": ("各数据源已发布行数", "Published rows per source"),
    "published_rows": ("已发布行数", "Published rows"),
    "quarantined_rows": ("隔离行数", "Quarantined rows"),
    "unit_rows": ("行", "rows"),
    "source_axis": ("数据源", "Source"),
    "no_quarantine": (
        "没有被隔离的行：每一行都通过了校验。",
        "No quarantined rows: every row passed validation.",
    ),
    "freshness_rule": (
        "落后天数 = 数据截至日期 − 该数据源最新已加载分区；"
        "超过 {late} 天为“延迟”，超过 {stale} 天为“过期”"
        "（设置 NUDGESCOPE_FRESHNESS_LATE_DAYS / NUDGESCOPE_FRESHNESS_STALE_DAYS）。",
        "Days behind = as-of date − the source's latest loaded partition; late when more than "
        "{late} day(s) behind, stale when more than {stale} (settings "
        "NUDGESCOPE_FRESHNESS_LATE_DAYS / NUDGESCOPE_FRESHNESS_STALE_DAYS).",
    ),
}


# ---------------------------------------------------------------------------------------------
# Codes: the values the data carries (categories, sources, purposes, arms, ...), one label per
# code and kind, the same on every page. `code(kind, value)` gives it in the current language;
# a code without a label is shown as it is (tests scan the Chinese pages for raw codes).
# ---------------------------------------------------------------------------------------------
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "category": {
        "sms_night": ("夜间短信", "SMS at night"),
        "sms_duplicate": ("重复短信", "Duplicate SMS"),
        "sms_marketing": ("营销短信", "Marketing SMS"),
        "sms_frequency": ("短信过频", "Too many SMS"),
        "collection_conduct": ("催收行为", "Collection conduct"),
        "fees": ("费用", "Fees"),
        "refund": ("退款", "Refund"),
        "credit_report": ("征信", "Credit report"),
        "other": ("其他", "Other"),
    },
    "complaint_source": {
        "hotline": ("客服热线", "Hotline"),
        "app": ("App 内", "In-app"),
        "heimao": ("黑猫投诉", "Heimao"),
        "regulator": ("监管转办", "Regulator"),
    },
    "complaint_status": {"open": ("处理中", "Open"), "resolved": ("已解决", "Resolved")},
    "data_source": {
        "users": ("用户", "Users"),
        "experiment_assignments": ("实验分组", "Experiment assignments"),
        "checkout_sessions": ("结账会话", "Checkout sessions"),
        "orders": ("订单", "Orders"),
        "bills": ("账单", "Bills"),
        "repayments": ("还款", "Repayments"),
        "sms_logs": ("短信日志", "SMS logs"),
        "opt_outs": ("退订", "Opt-outs"),
        "complaints": ("投诉", "Complaints"),
        "sms_receipts": ("短信回执", "SMS receipts"),
        "sms_preferences": ("短信偏好", "SMS preferences"),
    },
    "file_status": {
        "loaded": ("已加载", "Loaded"),
        "failed": ("失败", "Failed"),
        "removed": ("已移除", "Removed"),
        "superseded": ("已被替代", "Superseded"),
    },
    "reason_code": {
        "missing_required": ("必填字段为空", "Required field missing"),
        "bad_id": ("ID 过长", "ID too long"),
        "bad_timestamp": ("时间无法解析", "Bad timestamp"),
        "bad_ts": ("时间无法解析", "Bad timestamp"),
        "bad_date": ("日期格式错误", "Bad date"),
        "bad_month": ("月份格式错误", "Bad month"),
        "bad_money": ("金额格式错误", "Bad amount"),
        "bad_int": ("整数无法解析", "Bad integer"),
        "bad_bool": ("布尔值无法识别", "Bad boolean"),
        "bad_enum": ("取值不在枚举内", "Value not allowed"),
        "bad_value": ("取值错误", "Bad value"),
        "out_of_range": ("数值低于下限", "Out of range"),
        "payment_method_required": ("已完成结账缺少支付方式", "Payment method missing"),
        "installments_not_one": ("非分期支付的期数不为 1", "Installments not 1"),
        "due_before_statement": ("到期日早于账单日", "Due before statement"),
        "unmasked_phone": ("含未脱敏手机号", "Unmasked phone number"),
    },
    "purpose": {
        "bill_notice": ("账单通知", "Bill notice"),
        "due_reminder": ("到期提醒", "Due reminder"),
        "overdue_collection": ("逾期催收", "Overdue collection"),
        "marketing": ("营销", "Marketing"),
        "verification": ("验证码", "Verification"),
    },
    "delivery_status": {
        "delivered": ("已送达", "Delivered"),
        "failed": ("失败", "Failed"),
        "pending": ("待回执", "Pending"),
    },
    "score_band": {b: (f"{b} 级", f"Band {b}") for b in "ABCDE"},
    "provider": {
        "aliyun": ("阿里云", "Aliyun"),
        "tencent": ("腾讯云", "Tencent Cloud"),
        "twilio": ("Twilio", "Twilio"),
        "unknown": ("未知", "Unknown"),  # mart.sms_gateway_reconciliation's word for none
        "": ("未知", "Unknown"),
    },
    "arm": {
        "control": ("对照组", "Control"),
        "two_reminders": ("2 条提醒", "2 reminders"),
        "(none)": ("未分组", "Not in the experiment"),
    },
    "outcome": {
        "on_time": ("按时还款", "On time"),
        "dpd30": ("逾期 30+", "30+ DPD"),
        "complained": ("投诉", "Complained"),
        "sms_complained": ("短信投诉", "SMS complaint"),
        "opted_out": ("退订", "Opted out"),
        "active_next_cycle": ("下期活跃", "Active next cycle"),
    },
    "flag": {
        "is_duplicate": ("重复发送", "Duplicate"),
        "is_quiet_hours": ("免打扰时段", "Quiet hours"),
        "is_after_opt_out": ("退订后营销", "Marketing after opt-out"),
        "is_over_daily_cap": ("超出每日上限", "Over daily cap"),
        "is_marketing_in_service": ("服务短信含营销", "Promotion in service SMS"),
        "is_marketing_without_consent": ("未授权营销", "Marketing without consent"),
        "is_after_settlement": ("已还清后提醒", "Reminder after settlement"),
        "is_collection_before_due": ("未到期催收", "Collection before due"),
        "is_against_preference": ("违背用户设置", "Against the user's settings"),
    },
    "never_sent_reason": {
        "after_settlement": ("账单已还清", "Bill settled"),
        "collection_before_due": ("未到期催收", "Collection before due"),
        "against_preference": ("违背用户设置", "Against the user's settings"),
    },
    "non_permitted_reason": {
        "after_opt_out": ("退订后", "After opt-out"),
        "no_consent": ("未授权", "Without consent"),
        "opt_out+no_consent": ("退订后且未授权", "After opt-out, without consent"),
    },
    "rule": {
        "compliance": ("合规拦截", "Compliance block"),
        "user_settings": ("用户设置", "User's own settings"),
        "after_settlement": ("还清后", "After settlement"),
        "duplicates": ("去重", "Duplicates"),
        "quiet_hours": ("免打扰时段", "Quiet hours"),
        "reminder_cap": ("到期前提醒上限", "Pre-due reminder cap"),
        "daily_cap": ("每日上限", "Daily cap"),
        "promo": ("提醒不含营销", "No promotion in reminders"),
        "total": ("合计", "Total"),
    },
    "offered": {"true": ("提供先享后付", "Pay-later offered"), "false": ("未提供", "Not offered")},
    "freshness": {
        "fresh": ("正常", "Fresh"),
        "late": ("延迟", "Late"),
        "stale": ("过期", "Stale"),
        "missing": ("无文件", "No files"),
    },
}
# Arms named for their cadence (the simulator's reminders_0 .. reminders_4).
_ARM_CADENCE = re.compile(r"^reminders_(\d+)$")


def code(kind: str, value: object) -> str:
    """The label of a code in the current language (the code itself when it has none)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    pair = CODES.get(kind, {}).get(text)
    if pair is None and kind == "arm" and (m := _ARM_CADENCE.match(text)):
        n = m.group(1)
        pair = (f"{n} 条提醒", f"{n} reminder" + ("" if n == "1" else "s"))
    if pair is None and "+" in text:  # several codes of the kind at once, e.g. two reasons
        return ("、" if lang() == "zh" else ", ").join(code(kind, p) for p in text.split("+"))
    if pair is None:
        return text
    return pair[0] if lang() == "zh" else pair[1]


def codes(kind: str) -> list[str]:
    """Every code of a kind, in the order of its table (the order colours follow)."""
    return list(CODES.get(kind, {}))


# Column headers of the tables the pages show: one label per column name. `col(name)`.
COLUMNS: dict[str, tuple[str, str]] = {
    "source": ("来源", "Source"),
    "latest_dt": ("最新分区", "Latest partition"),
    "days_behind": ("落后天数", "Days behind"),
    "freshness": ("新鲜度", "Freshness"),
    "files": ("文件数", "Files"),
    "failed_files": ("失败文件", "Failed files"),
    "rows_read": ("读取行数", "Rows read"),
    "rows_loaded": ("加载行数", "Rows loaded"),
    "rows_quarantined": ("隔离行数", "Rows quarantined"),
    "rows_superseded": ("被替代行数", "Rows superseded"),
    "last_loaded_at": ("最近加载（北京时间）", "Last loaded (Asia/Shanghai)"),
    "loaded_at": ("加载时间（北京时间）", "Loaded at (Asia/Shanghai)"),
    "dt": ("分区日期", "Partition date"),
    "path": ("文件", "File"),
    "format": ("格式", "Format"),
    "encoding": ("编码", "Encoding"),
    "dropped_columns": ("丢弃的列", "Dropped columns"),
    "status": ("状态", "Status"),
    "error": ("错误", "Error"),
    "reason_code": ("原因", "Reason"),
    "rows": ("行数", "Rows"),
    "example_message": ("示例说明", "Example message"),
    "first_dt": ("最早分区", "First partition"),
    "last_dt": ("最晚分区", "Last partition"),
    "row_number": ("行号", "Row"),
    "message": ("说明", "Message"),
    "raw_row": ("原始行（已脱敏）", "Raw row (masked)"),
    "category": ("类别", "Category"),
    "complaints": ("投诉数", "Complaints"),
    "resolved": ("已解决", "Resolved"),
    "median_hours": ("处理时长中位数（小时）", "Median resolution (hours)"),
    "p90_hours": ("处理时长 P90（小时）", "P90 resolution (hours)"),
    "received": ("收到时间（北京时间）", "Received (Asia/Shanghai)"),
    "narrative": ("投诉原文（已脱敏）", "Narrative (masked)"),
    "sent": ("发送时间（北京时间）", "Sent (Asia/Shanghai)"),
    "message_id": ("短信 ID", "Message id"),
    "user_id": ("用户 ID", "User id"),
    "complaint_id": ("投诉 ID", "Complaint id"),
    "template_code": ("模板", "Template"),
    "purpose": ("用途", "Purpose"),
    "reason": ("原因", "Reason"),
    "bill_id": ("账单 ID", "Bill id"),
    "delivery_status": ("送达状态", "Delivery"),
    "content": ("短信内容（已脱敏）", "Content (masked)"),
    "flags": ("问题标记", "Flags"),
    "messages": ("短信数", "Messages"),
    "flagged": ("问题短信", "Flagged messages"),
    "flagged_share": ("问题短信占比", "Flagged share"),
    "provider": ("服务商", "Provider"),
    "delivered": ("已送达", "Delivered"),
    "failed": ("失败", "Failed"),
    "delivery_rate": ("送达率", "Delivery rate"),
    "segments": ("计费条数", "Billed segments"),
    "spend": ("费用（元）", "Spend (yuan)"),
    "column_name": ("列", "Column"),
    "data_type": ("类型", "Type"),
    "experiment_id": ("实验", "Experiment"),
    "arm": ("实验组", "Arm"),
    "policy": ("策略", "Policy"),
    "incident_id": ("事件 ID", "Incident"),
    "started": ("开始（北京时间）", "Started (Asia/Shanghai)"),
    "minutes": ("持续（分钟）", "Duration (minutes)"),
    "users": ("用户数", "Users"),
    "templates": ("模板", "Templates"),
    "duplicate_messages": ("重复短信", "Duplicate messages"),
    "duplicate_rate": ("重复率", "Duplicate rate"),
}


def col(name: str) -> str:
    """The header of a table column in the current language (the name itself if unknown)."""
    pair = COLUMNS.get(name)
    if pair is None:
        return name
    return pair[0] if lang() == "zh" else pair[1]


# The sandbox's refusals and errors (pipelines/serve/sandbox.py words them in English for the CLI):
# the SQL page shows them in the current language. Patterns over the English text, the first
# that matches wins; {0}, {1} are its groups. A message no pattern knows is shown as it is.
_REFUSED = r"^(.+?) is refused: "
SANDBOX_MESSAGES: list[tuple[str, str]] = [
    # "<what> is refused: <reason>" (pipelines/serve/sandbox.py names what it refused)
    (_REFUSED + r"it reads or writes files", "{0} 会读写文件；这里只允许查询"),
    (_REFUSED + r"it reads files into the database", "{0} 会把文件读入数据库；这里只允许查询"),
    (_REFUSED + r"it writes files", "{0} 会写文件；这里只允许查询"),
    (_REFUSED + r"it opens other databases", "{0} 会打开其他数据库；只能查询已发布的数据库"),
    (_REFUSED + r"it changes the attached databases", "{0} 会改变已连接的数据库；这里只允许查询"),
    (_REFUSED + r"installing or loading extensions", "沙箱内禁止安装或加载扩展（拒绝 {0}）"),
    (_REFUSED + r"settings are locked", "沙箱内设置已锁定（拒绝 {0}）"),
    (_REFUSED + r"the published database is read-only", "已发布数据库为只读：拒绝 {0}"),
    (_REFUSED + r"transactions are not needed", "只读查询不需要事务（拒绝 {0}）"),
    (_REFUSED + r"use SELECT \* FROM duckdb_settings",
     "拒绝 {0}；请改用 SELECT * FROM duckdb_settings() 或 DESCRIBE"),
    (_REFUSED + r"use SELECT \* FROM <table function>",
     "拒绝 {0}；请改用 SELECT * FROM <表函数>(...)"),
    (_REFUSED + r"prepared statements", "拒绝预处理语句（{0}）；请直接写查询"),
    (_REFUSED + r"the sandbox reads no file",
     "沙箱不读取任何文件、网络或扩展（拒绝 {0}）；请查询已发布数据库中的表"),
    (_REFUSED + r"only SELECT, EXPLAIN and PIVOT", "拒绝 {0}；只允许 SELECT、EXPLAIN 和 PIVOT"),
    (r"^EXPLAIN is refused here", "EXPLAIN 只能用于 SELECT"),
    (r"^one statement at a time, please \(found (\d+) statements\)",
     "一次只能运行一条语句（收到 {0} 条）"),
    (r"^the query needs more memory than the sandbox allows", "查询所需内存超过沙箱上限"),
    (r"^the query was stopped: it needed more memory", "查询已停止：所需内存超过沙箱上限"),
    (r"^showing the first ([\d,]+) rows: the output is capped at (\d+) MB \(the first row",
     "输出上限为 {1} MB，第一行就已超出，未显示任何行"),
    (r"^showing the first ([\d,]+) rows: the output is capped at (\d+) MB",
     "只显示前 {0} 行（输出上限 {1} MB）"),
    (r"^the query worker did not start in time", "查询进程未能及时启动；请重试"),
    (r"^file, network and extension access is disabled",
     "沙箱内禁止访问文件、网络和扩展；请查询已发布数据库中的表"),
    (r"^COPY DATABASE writes files", "COPY DATABASE 会写文件；这里只允许查询"),
    (r"^COPY reads or writes files", "COPY 会读写文件；这里只允许查询"),
    (r"^EXPORT DATABASE writes files", "EXPORT DATABASE 会写文件；这里只允许查询"),
    (r"^ATTACH opens other databases", "ATTACH 会打开其他数据库；只能查询已发布的数据库"),
    (r"^DETACH changes the attached databases", "DETACH 会改变已连接的数据库；这里只允许查询"),
    (r"^installing or loading extensions is disabled", "沙箱内禁止安装或加载扩展"),
    (r"^settings are locked in the sandbox \(SET VARIABLE",
     "沙箱内设置已锁定（拒绝 SET VARIABLE）"),
    (r"^settings are locked in the sandbox", "沙箱内设置已锁定（拒绝 SET、RESET 和 USE）"),
    (r"^the published database is read-only: (\w+) is refused", "已发布数据库为只读：拒绝 {0}"),
    (r"^transactions are not needed", "只读查询不需要事务"),
    (r"^PRAGMA is refused", "拒绝 PRAGMA；请改用 SELECT * FROM duckdb_settings() 或 DESCRIBE"),
    (r"^CALL is refused", "拒绝 CALL；请改用 SELECT * FROM <表函数>(...)"),
    (r"^prepared statements are refused", "拒绝预处理语句；请直接写查询"),
    (r"^the query is empty", "查询为空"),
    (r"^one statement at a time, please \(found (\d+)\)", "一次只能运行一条语句（收到 {0} 条）"),
    (r"^EXPLAIN is allowed for a SELECT only", "EXPLAIN 只能用于 SELECT"),
    (r"^(\w+) statements are refused; only SELECT is allowed", "拒绝 {0} 语句；只允许 SELECT"),
    (r"^stopped: the query ran longer than the ([\d.]+) s time limit",
     "已停止：查询超过 {0} 秒的时间上限"),
    (r"^the query needs more than the (\S+) memory limit", "查询所需内存超过 {0} 上限"),
    (r"^no published database at (.+?); run `nudgescope run` first",
     "尚未发布数据库：{0}；请先运行 `nudgescope run`"),
    (r"^showing the first ([\d,]+) rows \(row cap\)", "只显示前 {0} 行（行数上限）"),
]  # fmt: skip


def sandbox_message(message: str) -> str:
    """A sandbox refusal, error or note in the current language."""
    if lang() != "zh":
        return message
    for pattern, zh in SANDBOX_MESSAGES:
        m = re.match(pattern, message)
        if m:
            return zh.format(*m.groups())
    return message


def labeller(fmt: str = "{}", none: str | None = None):
    """A format_func with the labels fixed now, in the current language.

    Streamlit may call a widget's format_func outside the script run (AppTest does), where
    the session's language is not known; a closure over ready-made labels is safe there.
    `fmt` builds the key from the option (e.g. "o_{}"); options are shown as they are when the
    key has no label; `none` is the key for the option None.
    """
    current = lang()

    def label(option: object) -> str:
        if option is None:
            return _pick(none, current) if none else ""
        key = fmt.format(option)
        return _pick(key, current) if key in L else str(option)

    return label


def _pick(key: str, language: str) -> str:
    pair = L.get(key)
    if pair is None:
        return key
    return pair[0] if language == "zh" else pair[1]


def lang() -> str:
    return st.session_state.get("lang", DEFAULT)


def t(key: str, **fmt: object) -> str:
    """The label for `key` in the current language (the key itself if unknown)."""
    pair = L.get(key)
    if pair is None:
        return key
    text = pair[0] if lang() == "zh" else pair[1]
    return text.format(**fmt) if fmt else text
