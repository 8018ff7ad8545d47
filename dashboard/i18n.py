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
        "前沿：每期短信 vs 按时还款率（气泡大小 = 投诉率）",
        "Frontier: messages per cycle vs on-time rate (bubble size = complaint rate)",
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
    "rule_reminder_cap": ("到期前提醒上限", "Maximum pre-due reminders"),
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
    "exp_on_time_pp": ("按时还款率变化", "Change in on-time rate"),
    "exp_complaints": ("投诉变化（件）", "Change in complaints"),
    "exp_opt_outs": ("退订变化（人）", "Change in opt-outs"),
    "assumptions": ("假设", "Assumptions"),
    "assumption_counting": (
        "短信减少量按发送日志精确计数：每条短信最多计一次，归入表中第一条命中的规则；"
        "拦截类规则先执行，上限类规则只计算剩余短信；上限按已发送短信计（不论是否送达）。"
        "到期前提醒上限按账单的全部到期前提醒排序（含所选期间之前发送的），与短信网关执行方式一致；"
        "所选期间只决定统计哪些短信。计数来自流水线预先汇总的表（mart.policy_cap_histogram，"
        "覆盖上限 1–6 与不设上限的每种组合），结果与逐条计算完全一致。",
        "Messages removed are counted exactly from the send log: each message at most once, "
        "under the first rule in the table that removes it; filters act first and the caps "
        "count only what survives them; caps count messages sent, whatever their delivery. "
        "The pre-due reminder cap ranks a bill's whole pre-due sequence (also reminders sent "
        "before the chosen period), as a gateway would; the period only picks which messages "
        "are counted. The counts come from histograms the pipeline precomputes "
        "(mart.policy_cap_histogram, for every combination of caps 1-6 or none), and equal a "
        "message-by-message count exactly.",
    ),
    "assumption_on_time": (
        "按时还款只受到期前提醒上限影响。默认用实验（随机分组、提醒条数不同）：每个实验组是一个点"
        "（平均到期前提醒条数，结果率），提醒 r 条的账单变化 f(K) − f(r)，f 在组间线性插值、"
        "超出范围取端点。备选：账单所在评分等级的量-效曲线（上限分组代替原分组）——"
        "曲线是观察性的，有混杂（逾期者会收到更多提醒）。",
        "On-time repayment changes only through the pre-due reminder cap. By default the effect "
        "comes from the experiment (randomised arms with different reminder cadences): each arm "
        "is a point (mean pre-due reminders, outcome rate); a bill with r reminders changes by "
        "f(K) − f(r), f interpolated linearly between arms and flat beyond them. The alternative "
        "is the volume–outcome curve of the bill's score band (bucket K instead of bucket r): "
        "observational and confounded (late payers receive more reminders).",
    ),
    "effect_source": ("提醒上限的效果来自", "Effect of the reminder cap from"),
    "source_experiment": ("实验（随机）", "experiment (randomised)"),
    "source_curve": ("量-效曲线（观察性）", "volume–outcome curve (observational)"),
    "dose_title": ("实验 {exp} 的剂量-反应（各组）", "Dose–response of experiment {exp} (arms)"),
    "no_dose": (
        "没有可用的实验剂量-反应，改用量-效曲线。",
        "No experiment dose–response available; using the volume–outcome curve.",
    ),
    "assumption_complaints": (
        "投诉：每条被减少的短信带有本期同范围内实测的对应类别投诉率（重复→重复投诉/重复短信；"
        "免打扰→夜间投诉/夜间短信；每日上限→频繁投诉/超限短信；营销→营销投诉/营销类短信）；"
        "提醒上限用曲线的投诉率。",
        "Complaints: each removed message carries the complaint rate measured for its rule in "
        "the same period and scope (duplicates → duplicate complaints per duplicate; quiet "
        "hours → night complaints per quiet-hours message; daily cap → frequency complaints per "
        "over-cap message; marketing → marketing complaints per promotional message); the "
        "reminder cap uses the curve's complaint rate.",
    ),
    "assumption_opt_outs": (
        "退订：每条被减少的短信带有本期平均每条短信的退订率；提醒上限用曲线的退订率。",
        "Opt-outs: each removed message carries the period's average opt-outs per message; the "
        "reminder cap uses the curve's opt-out rate.",
    ),
    "assumption_promo": (
        "去掉提醒中的营销内容不减少短信，只去掉其营销投诉风险。",
        "Dropping promotions from reminders removes no message, only its marketing-complaint risk.",
    ),
    "measured_rates": ("实测比率", "Measured rates"),
    "measured_line": (
        "每条短信退订 {o} / {m} = {r:.4f}；按时还款账单 {ok} / {b}",
        "opt-outs per message {o} / {m} = {r:.4f}; bills repaid on time {ok} / {b}",
    ),
    "template": ("模板", "Template"),
    "flagged": ("问题短信", "Flagged messages"),
    "experiment_check": (
        "对照：实验 {exp} 中 {arm} 组按时还款差值 {diff}（95% CI {lo} ~ {hi}），"
        "平均每期短信 {a:.2f} vs 对照 {c:.2f}。",
        "Cross-check: in {exp}, arm {arm} changed on-time rate by {diff} (95% CI {lo} to {hi}) "
        "with {a:.2f} vs {c:.2f} messages per cycle.",
    ),
    "value_weights": ("价值权重（元）", "Value weights (yuan)"),
    "w_on_time": ("每笔按时还款", "per on-time repayment"),
    "w_complaint": ("每件投诉（成本）", "per complaint (cost)"),
    "w_opt_out": ("每个退订（成本）", "per opt-out (cost)"),
    "w_message": ("每条短信（成本）", "per message (cost)"),
    "computing": ("正在计算各候选策略……", "Counting every candidate policy…"),
    "ranking": ("候选策略排名", "Candidate policies ranked"),
    "policy": ("策略", "Policy"),
    "value_yuan": ("净价值（元）", "Net value (yuan)"),
    "rank": ("排名", "Rank"),
    "p_current": ("现状", "Current"),
    "p_compliance": ("仅合规拦截", "Compliance only"),
    "p_hygiene": (
        "合规 + 去重 + 免打扰 + 无营销提醒",
        "Compliance + dedupe + quiet hours + clean reminders",
    ),
    "p_hygiene_cap3": ("上述 + 每日 3 条", "The above + 3 per day"),
    "p_hygiene_2_reminders": (
        "上述 + 最多 2 条到期前提醒",
        "The above + at most 2 pre-due reminders",
    ),
    "p_yours": ("你的策略", "Your policy"),
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
    # SMS health: the gateways' receipts (dashboard/views/gateway.py)
    "gw_title": ("网关回执对账", "Gateway receipts vs the send log"),
    "gw_no_receipts": (
        "所选范围内没有网关回执（sms_receipts 未加载）。",
        "No gateway receipts in the selected range (sms_receipts not loaded).",
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
