"""Notification bodies (generic JSON or a chat robot's message format) and their delivery.

One POST per incident event and endpoint, with stdlib urllib only. A failing endpoint is
retried with exponential backoff within the run (bounded: `retries` attempts, `timeout`
each); what is still undelivered stays pending for the next run. Nothing here raises for a
network problem: the outcome is returned for the caller to record.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pipelines.settings import TIMEZONE

LOCAL = ZoneInfo(TIMEZONE)
# WeCom caps a text message at 2048 bytes, DingTalk and Feishu are larger; one cap for all
MAX_TEXT_BYTES = 2000

KIND_LABELS = {
    "zh": {
        "duplicate_burst": "重复短信突增",
        "night_batch": "夜间批量发送服务短信",
        "promo_in_service": "服务短信夹带营销内容",
        "after_opt_out": "退订后仍发送营销短信",
        "over_cap_surge": "超出每日上限的短信激增",
        "delivery_drop": "送达率下降",
        "stale_source": "数据源长时间无新文件",
    },
    "en": {
        "duplicate_burst": "duplicate message burst",
        "night_batch": "service messages sent in quiet hours",
        "promo_in_service": "promotion in service messages",
        "after_opt_out": "marketing after opt-out",
        "over_cap_surge": "surge of messages over the daily cap",
        "delivery_drop": "delivery rate drop",
        "stale_source": "stale source",
    },
}
SUBJECTS = {
    "zh": {"provider": "通道 {}", "template": "模板 {}", "source": "数据源 {}"},
    "en": {"provider": "provider {}", "template": "template {}", "source": "source {}"},
}
SUBJECT_TYPE = {
    "duplicate_burst": "provider",
    "night_batch": "provider",
    "delivery_drop": "provider",
    "promo_in_service": "template",
    "stale_source": "source",
}


@dataclass(frozen=True)
class Event:
    """One incident event to announce (a row of sql/alerts/changes.sql)."""

    incident_id: int
    kind: str
    subject: str
    event: str  # "open" | "resolved"
    first_seen: datetime
    last_seen: datetime
    messages: int
    users: int
    templates: list[str]
    provider: str | None
    hours: int


def _local(ts: datetime) -> str:
    return ts.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def iso(ts: datetime) -> str:
    return ts.astimezone(LOCAL).isoformat(timespec="seconds")


def summary_text(e: Event, lang: str = "zh", quiet_minutes: int = 180) -> str:
    """A one-paragraph summary of the event in Chinese (default) or English."""
    label = KIND_LABELS[lang][e.kind]
    kind_of_subject = SUBJECT_TYPE.get(e.kind)
    subject = SUBJECTS[lang][kind_of_subject].format(e.subject) if kind_of_subject else ""
    shown = e.templates[:5]
    more = len(e.templates) - len(shown)
    if lang == "zh":
        templates = "、".join(shown) + (f" 等 {len(e.templates)} 个" if more > 0 else "")
        what = f"{label}（{subject}）" if subject else label
        if e.kind == "stale_source":
            body = (
                f"自 {_local(e.first_seen)} 起超过预期间隔没有新文件，"
                f"最近一次检查 {_local(e.last_seen)}。"
            )
        else:
            body = (
                f"{_local(e.first_seen)} 至 {_local(e.last_seen)}（北京时间）"
                f"共 {e.messages} 条短信，"
                f"涉及 {e.users} 位用户，{e.hours} 个小时，模板：{templates or '无'}。"
            )
        if e.event == "open":
            return f"【nudgescope 告警】事件 #{e.incident_id} 已开始：{what}。{body}"
        tail = (
            "数据源已恢复新文件。"
            if e.kind == "stale_source"
            else f"最后一条后 {quiet_minutes} 分钟内未再出现。"
        )
        return f"【nudgescope 恢复】事件 #{e.incident_id} 已结束：{what}。{body}{tail}"
    templates = ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    what = f"{label} ({subject})" if subject else label
    if e.kind == "stale_source":
        body = (
            f"No new file for longer than expected since {_local(e.first_seen)}; "
            f"last checked {_local(e.last_seen)}."
        )
    else:
        body = (
            f"{_local(e.first_seen)} to {_local(e.last_seen)} (Beijing time): {e.messages} "
            f"messages to {e.users} users over {e.hours} hour(s), templates: "
            f"{templates or 'none'}."
        )
    if e.event == "open":
        return f"[nudgescope alert] Incident #{e.incident_id} opened: {what}. {body}"
    tail = (
        " The source has new files again."
        if e.kind == "stale_source"
        else f" Not seen again for {quiet_minutes} minutes after the last one."
    )
    return f"[nudgescope resolved] Incident #{e.incident_id} resolved: {what}. {body}{tail}"


def _clip(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= MAX_TEXT_BYTES:
        return text
    return data[: MAX_TEXT_BYTES - 3].decode("utf-8", errors="ignore") + "…"


def payload(e: Event, text: str) -> dict:
    """The generic JSON body."""
    return {
        "incident_id": e.incident_id,
        "kind": e.kind,
        "status": e.event,
        "first_seen": iso(e.first_seen),
        "last_seen": iso(e.last_seen),
        "messages": e.messages,
        "users": e.users,
        "templates": list(e.templates),
        "provider": e.provider,
        "subject": e.subject,
        "text": text,
    }


def body(e: Event, fmt: str, lang: str, quiet_minutes: int = 180) -> dict:
    """What is POSTed: the generic JSON, or the text message of a chat robot.

    DingTalk and WeCom group robots: {"msgtype": "text", "text": {"content": …}};
    Feishu custom bot: {"msg_type": "text", "content": {"text": …}}; Slack incoming
    webhook: {"text": …}.
    """
    text = summary_text(e, lang, quiet_minutes)
    if fmt in ("dingtalk", "wecom"):
        return {"msgtype": "text", "text": {"content": _clip(text)}}
    if fmt == "feishu":
        return {"msg_type": "text", "content": {"text": _clip(text)}}
    if fmt == "slack":
        return {"text": text}
    return payload(e, text)


def endpoint_label(url: str) -> str:
    """The URL without query string, user info or fragment (robot tokens live there)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def endpoint_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass
class Delivery:
    ok: bool
    attempts: int
    error: str | None


def _robot_error(fmt: str, raw: bytes) -> str | None:
    """Chat robots answer HTTP 200 with an error code in the body (e.g. a missing keyword)."""
    if fmt not in ("dingtalk", "wecom", "feishu"):
        return None
    try:
        answer = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(answer, dict):
        return None
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code not in (0, None, "0"):
        msg = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage") or ""
        return f"robot error {code}: {msg}".strip()
    return None


def post(
    url: str,
    data: bytes,
    fmt: str,
    retries: int,
    backoff_seconds: float,
    timeout_seconds: float,
    sleep=time.sleep,
) -> Delivery:
    """POST `data` (JSON) to `url`, up to `retries` attempts with backoff 1×, 2×, 4×… ."""
    error = None
    for attempt in range(1, retries + 1):
        request = urllib.request.Request(
            url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                error = _robot_error(fmt, response.read())
                if error is None:
                    return Delivery(True, attempt, None)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"{type(exc).__name__}: {reason}"
        if attempt < retries:
            sleep(backoff_seconds * 2 ** (attempt - 1))
    return Delivery(False, retries, error)
