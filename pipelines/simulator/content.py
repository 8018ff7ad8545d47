"""Chinese text of the simulated world: SMS templates and complaint narratives.

SMS templates carry placeholders filled per message: {A} amount in yuan, {D} due date
(`MM月DD日`), {M} statement month number, {N} days overdue, {C} a 6-digit code. Service
templates avoid the promotion keywords of metrics.md; the `*_P` variants deliberately carry a
promotion (the "reminder template with a promotion" fault).
"""

from __future__ import annotations

SIGN = "【乐享月付】"

# template_code -> (purpose, text)
TEMPLATES: dict[str, tuple[str, str]] = {
    "SMS_BILL_01": (
        "bill_notice",
        SIGN + "您{M}月账单已出，本期应还{A}元，最后还款日{D}。可在App“我的-月付”查看明细并还款。",
    ),
    "SMS_BILL_02P": (
        "bill_notice",
        SIGN + "您{M}月账单已出，本期应还{A}元，最后还款日{D}。按时还款可参与抽奖，"
        "赢取免息券！回T退订",
    ),
    "SMS_RMD_01": (
        "due_reminder",
        SIGN + "温馨提醒：您本期账单{A}元将于{D}到期，请确保还款账户余额充足，"
        "按时还款可保持良好信用记录。",
    ),
    "SMS_RMD_02": (
        "due_reminder",
        SIGN + "您本期账单{A}元今天到期，请于今日24点前完成还款，避免逾期影响信用。",
    ),
    "SMS_RMD_03P": (
        "due_reminder",
        SIGN + "您本期账单{A}元将于{D}到期，按时还款即送5元红包，限时领券中！回T退订",
    ),
    "SMS_COLL_01": (
        "overdue_collection",
        SIGN + "您的账单{A}元已逾期{N}天，请尽快还款，以免产生违约金并影响个人信用。",
    ),
    "SMS_COLL_02": (
        "overdue_collection",
        SIGN + "您的账单已逾期{N}天，待还{A}元。请立即登录App还款，如有困难请致电客服协商。",
    ),
    "SMS_COLL_03": (
        "overdue_collection",
        SIGN + "重要通知：您的欠款{A}元已严重逾期{N}天，逾期记录可能上报征信，请今日内处理。",
    ),
    "SMS_MKT_01": (
        "marketing",
        SIGN + "月付专享：本周下单立减20元，先享后付0元下单，戳 s.lxyf.cn/a8 回T退订",
    ),
    "SMS_MKT_02": (
        "marketing",
        SIGN + "您有一张10元红包待领取，月付下单直接抵扣，限时3天，戳 s.lxyf.cn/r2 回T退订",
    ),
    "SMS_MKT_03": (
        "marketing",
        SIGN + "直播间爆款低至5折，月付分期享免息券，今晚8点开抢！戳 s.lxyf.cn/l5 回T退订",
    ),
    "SMS_MKT_04": (
        "marketing",
        SIGN + "会员日福利：月付用户专属折扣券已到账，满100减15，戳 s.lxyf.cn/v1 回T退订",
    ),
    "SMS_MKT_05": (
        "marketing",
        SIGN + "您的月付额度已提升，双12活动期间购物可分3期免息，戳 s.lxyf.cn/q9 回T退订",
    ),
    "SMS_VERIFY_01": (
        "verification",
        SIGN + "验证码{C}，用于支付确认，5分钟内有效。请勿将验证码告诉他人。",
    ),
    "SMS_VERIFY_02": (
        "verification",
        SIGN + "您正在登录乐享月付，验证码{C}，5分钟内有效，如非本人操作请忽略。",
    ),
}

TEMPLATE_CODES = tuple(TEMPLATES)
BILL_TEMPLATE, BILL_PROMO_TEMPLATE = "SMS_BILL_01", "SMS_BILL_02P"
REMINDER_TEMPLATE, DUE_DAY_TEMPLATE, REMINDER_PROMO_TEMPLATE = (
    "SMS_RMD_01",
    "SMS_RMD_02",
    "SMS_RMD_03P",
)
COLLECTION_TEMPLATES = ("SMS_COLL_01", "SMS_COLL_02", "SMS_COLL_03")  # days 1-3, 4-15, 16+
MARKETING_TEMPLATES = ("SMS_MKT_01", "SMS_MKT_02", "SMS_MKT_03", "SMS_MKT_04", "SMS_MKT_05")
VERIFY_CHECKOUT, VERIFY_LOGIN = "SMS_VERIFY_01", "SMS_VERIFY_02"

# Complaint narratives per true category, written so that the keyword classification of
# metrics.md (first matching rule) gives back the true category.
NARRATIVES: dict[str, tuple[str, ...]] = {
    "sms_night": (
        "凌晨一点还收到你们的还款短信，把我吵醒了，严重影响睡觉。",
        "半夜十一点多发催还款的短信，家人都被吵醒，请不要再这样。",
        "深夜收到提醒短信，这个时间发消息合适吗？",
    ),
    "sms_duplicate": (
        "同一条还款提醒几分钟内连发了四次，请排查你们的系统。",
        "一样的短信五分钟内收到三条，是系统出问题了吗？",
        "账单通知重复发送了好几遍，手机一直在响。",
    ),
    "sms_marketing": (
        "我已经回复退订了，还一直给我发营销短信。",
        "从来没有同意接收广告，却天天收到推销月付的短信。",
        "还款提醒里夹带促销内容，请停止。",
    ),
    "collection_conduct": (
        "逾期才两天就天天催收，还说要联系我通讯录里的人，这是威胁。",
        "催收人员态度恶劣，说要上门找我家人。",
    ),
    "sms_frequency": (
        "一天收到五六条短信，太多了，简直是短信轰炸。",
        "提醒消息发得过于频繁，已经影响正常生活，属于骚扰。",
    ),
    "fees": (
        "账单里多收了服务费和利息，事先没有说明。",
        "晚了一天还款就收违约金，手续费也不透明。",
    ),
    "refund": (
        "商品已经退货，退款迟迟没有到账，账单却还要我还。",
        "订单取消了，退款一直没有退回到月付额度。",
    ),
    "credit_report": (
        "我一直按时还款，却被上报了征信逾期记录，要求更正。",
        "为什么我的征信报告上出现了月付的记录？",
    ),
    "other": (
        "App无法登录，客服电话一直打不通。",
        "额度突然被降低，没有任何通知，请给个说法。",
    ),
}
COMPLAINT_CATEGORY_ORDER = tuple(NARRATIVES)
PHONE_SUFFIX = "，我的联系电话{P}"

OPT_OUT_TEXTS = {
    "sms_reply": ("T", "TD", "退订", "td", "退订 不要再发了"),
    "app": ("关闭营销短信",),
    "hotline": ("客户来电要求退订营销短信",),
}
