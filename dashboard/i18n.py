"""Labels in Chinese and English; `t(key)` gives the one of the language chosen in the sidebar."""

from __future__ import annotations

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
    # pages
    "page_overview": ("总览", "Overview"),
    "page_tradeoffs": ("短信权衡", "Messaging trade-offs"),
    "page_repayment": ("还款与风险", "Repayment & risk"),
    "page_conversion": ("转化与粘性", "Conversion & stickiness"),
    "page_complaints": ("投诉与退订", "Complaints & opt-outs"),
    "page_sms": ("短信健康与合规", "SMS health & compliance"),
    "page_sql": ("SQL 查询", "SQL"),
    "page_status": ("数据状态", "Data status"),
    # overview
    "period_caption": (
        "本期：{period}，对比上期 {previous}",
        "Period: {period}, compared with {previous}",
    ),
    "latest_month_note": ("（{metric} 最近可得月份：{month}）", "({metric}: latest month {month})"),
    "trends": ("趋势", "Trends"),
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
    "m_sms_per_active_account": ("每活跃账户短信", "Messages per active account"),
    "m_opt_outs": ("退订", "Opt-outs"),
    "m_complaints": ("投诉", "Complaints"),
    "m_sms_complaints_per_100k_sms": ("每十万短信的短信投诉", "SMS complaints per 100k messages"),
    "m_opt_outs_per_1k_marketing_sms": ("每千条营销短信退订", "Opt-outs per 1k marketing messages"),
    "m_complaint_resolution_hours_p50": ("投诉处理时长中位数（小时）", "Median resolution (hours)"),
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
    "f_is_marketing_in_service": ("服务短信含营销", "Promotion in service message"),
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
    "difference": ("差值（实验组 − 对照组）", "Difference (arm − control)"),
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
    "d_quiet_hours": ("夜间不发", "quiet hours"),
    "d_promo": ("提醒去营销", "clean reminders"),
    "d_reminder_cap": ("到期提醒 ≤ {k} 条", "≤ {k} reminders"),
    "d_band_caps": ("分等级提醒 {caps}", "reminders by band {caps}"),
    "d_daily_cap": ("每日 ≤ {n} 条", "≤ {n} a day"),
    "your_policy": ("你的策略", "Your policy"),
    "w_regulator_complaint": ("每件监管投诉（成本）", "per regulator complaint (cost)"),
    "w_violation": ("每条违规营销（成本）", "per compliance violation (cost)"),
    "ci_help": ("95% 区间 {lo} ~ {hi}", "95% interval {lo} to {hi}"),
    "ci_short": ("95% 区间 {lo} ~ {hi}", "95% interval {lo} to {hi}"),
    "of_in_scope": ("范围内 {n} 条中的 {p}", "{p} of {n} in scope"),
    "exp_violations": ("违规营销变化（条）", "Change in compliance violations"),
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
    "out_violations": ("违规营销（条）", "Compliance violations"),
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
        "短信减少量按发送日志精确计数：每条短信最多计一次，归入第一条命中的规则（合规、去重、免打扰、"
        "提醒上限、每日上限）；拦截类规则先执行，上限只计算剩余短信。"
        "提醒上限 K 表示账单通知之外最多 K 条到期提醒（账单通知从不删除）。",
        "Messages removed are counted exactly from the send log: each message at most once, "
        "under the first rule that removes it (compliance, duplicates, quiet hours, reminder "
        "cap, daily cap); filters act first and the caps count what survives them. Reminder "
        "cap K means at most K due reminders up to the due date besides the bill notice (which "
        "is never removed).",
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
        "内容是退订后或未同意仍收到营销的营销投诉→合规，其余营销投诉→提醒去营销）除以被标记的短信，"
        "乘以删掉的短信。监管投诉单独计算、单独定价；提醒上限的监管投诉按范围内监管投诉占比。",
        "Complaints: the complaints attributed to a rule (by given or classified category: "
        "duplicates, night → quiet hours, frequency → daily cap; marketing complaints about an "
        "opt-out or missing consent → compliance, other marketing complaints → promotions in "
        "reminders) per flagged message, times the messages removed. Regulator complaints are "
        "counted and priced apart; for the reminder cap, at the regulator share in scope.",
    ),
    "assumption_opt_outs": (
        "退订：每条仍可退订的营销短信（不在退订之后）的退订数，乘以删掉的此类短信；每日上限按超限"
        "短信中营销短信的比例。",
        "Opt-outs: opt-outs per marketing message a user could still opt out of (not after an "
        "opt-out), times such messages removed; for the daily cap in proportion to the "
        "marketing share of over-cap messages.",
    ),
    "assumption_violations": (
        "违规：删掉的每条退订后或未同意的营销短信计一次违规（PIPL、工信部规定），不论是否引发投诉。",
        "Violations: every marketing message after an opt-out or without consent that the "
        "policy removes counts as one violation avoided (PIPL, MIIT rules), whatever its "
        "complaint rate.",
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
    # conversion
    "conversion_title": (
        "结账转化率：是否提供先享后付",
        "Checkout conversion with / without pay-later",
    ),
    "offered_true": ("提供先享后付", "Pay-later offered"),
    "offered_false": ("未提供", "Not offered"),
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
    "rates_title": ("投诉与退订比率", "Complaint and opt-out rates"),
    # sms
    "flags_title": ("各类问题短信（按日）", "Flagged messages per day"),
    "incidents_title": ("重复发送事件时间线", "Duplicate incidents timeline"),
    "incident_start": ("开始时间（北京时间）", "Started (Asia/Shanghai)"),
    "duplicate_messages": ("重复短信", "Duplicate messages"),
    "duplicate_rate": ("重复率", "Duplicate rate"),
    "heatmap_title": ("本地时间：小时 × 星期", "Local hour × weekday"),
    "hour": ("小时", "Hour"),
    "weekday": ("星期", "Weekday"),
    "worst_templates": ("问题最多的模板", "Worst templates"),
    "non_permitted": ("退订后或未授权的营销短信", "Marketing after opt-out or without consent"),
    "no_incidents": (
        "所选范围内没有重复发送事件。",
        "No duplicate incidents in the selected range.",
    ),
    # sql
    "sql_intro": (
        "在已发布数据库上只读查询：只允许单条 SELECT / EXPLAIN；禁止文件、网络、扩展、ATTACH、"
        "COPY/EXPORT 和修改设置；内存上限 {mem}，超时 {timeout} 秒，最多 {rows} 行。"
        "时间以 UTC 显示。",
        "Read-only queries on the published database: one SELECT / EXPLAIN at a time; no file, "
        "network or extension access, no ATTACH, COPY/EXPORT or settings changes; memory cap "
        "{mem}, time limit {timeout} s, at most {rows} rows. Timestamps are shown in UTC.",
    ),
    "schema_browser": ("表结构", "Schema"),
    "examples": ("示例查询", "Example queries"),
    "query": ("SQL", "SQL"),
    "run": ("运行", "Run"),
    "rows_returned": ("{n} 行，用时 {s:.2f} 秒", "{n} rows in {s:.2f} s"),
    "refused": ("已拒绝：{msg}", "Refused: {msg}"),
    "timeout": ("已中断：{msg}", "Interrupted: {msg}"),
    "sql_error": ("查询出错：{msg}", "Query error: {msg}"),
    # status
    "as_of": ("数据截至", "As of"),
    "published_at": ("发布时间", "Last publish"),
    "run_id": ("运行 ID", "Run id"),
    "freshness": ("各数据源新鲜度", "Freshness per source"),
    "ledger": ("文件台账", "File ledger"),
    "quarantine": ("隔离行汇总（按原因）", "Quarantine summary (by reason)"),
    "quarantine_rows": ("隔离行样例", "Quarantined rows (latest)"),
    "no_files": ("以下数据源还没有任何文件：{sources}", "No files yet for: {sources}"),
    "failed_files": ("{n} 个文件读取失败", "{n} files failed to load"),
    "rows_per_source": ("各数据源行数", "Rows per source"),
}


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
