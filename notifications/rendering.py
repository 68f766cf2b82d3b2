"""Message texts: `templates/notifications/<event>/<channel>.<language>.txt`, rendered without HTML escaping.

The first line of an inbox, WeChat or email template is its title (subject); the rest is the body, one line
per paragraph (blank lines, such as those left by a false `{% if %}`, are dropped). SMS templates are the body
only. A missing optional context key renders as nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.template import Context, Engine
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime

from accounts.choices import Language

from .choices import Channel
from .events import Event

LANGUAGES = (Language.ZH_HANS.value, Language.EN.value)
DEFAULT_LANGUAGE = Language.ZH_HANS.value
_DATE_KEYS = ("review_deadline", "start_date", "end_date")
_DATETIME_KEYS = ("used_at",)
# Filing group codes (filing app), named in each language.
_GROUP_LABELS = {
    "zh-hans": {
        "retiree": "异地安置退休人员",
        "resident": "异地长期居住人员",
        "worker": "常驻异地工作人员",
        "referral": "异地转诊人员",
        "emergency": "异地急诊抢救人员",
        "temporary": "其他临时外出就医人员",
    },
    "en": {
        "retiree": "relocated retiree",
        "resident": "long-term resident",
        "worker": "long-term worker elsewhere",
        "referral": "referral",
        "emergency": "emergency care",
        "temporary": "other temporary care",
    },
}
# `scene` is a use scene (verify, settlement) or the kind of institution it was used at.
_SCENE_LABELS = {
    "zh-hans": {
        "verify": "身份核验",
        "settlement": "费用结算",
        "hospital": "就医",
        "clinic": "就医",
        "pharmacy": "购药",
    },
    "en": {
        "verify": "an identity check",
        "settlement": "settling a bill",
        "hospital": "a visit",
        "clinic": "a visit",
        "pharmacy": "buying medicine",
    },
}


@dataclass(frozen=True)
class Message:
    title: str
    body: str

    @property
    def text(self) -> str:
        """Title and body as one plain text (what a provider without a template engine shows)."""
        return f"{self.title}\n{self.body}" if self.title else self.body


@lru_cache(maxsize=1)
def _engine() -> Engine:
    # Our own engine: plain text must not be HTML-escaped ("&" in a hospital name stays "&").
    dirs = [str(path) for template in settings.TEMPLATES for path in template.get("DIRS", [])]
    return Engine(dirs=dirs, autoescape=False)


def template_name(*, event: str, channel: str, language: str) -> str:
    return f"notifications/{Event(event).value}/{Channel(channel).value}.{language}.txt"


def _display_context(context: dict, language: str) -> dict:
    """Adds labels for codes and turns ISO strings of known keys into dates and local datetimes."""
    shown = dict(context)
    shown["group_label"] = _GROUP_LABELS[language].get(str(shown.get("group", "")), "")
    shown["scene_label"] = _SCENE_LABELS[language].get(str(shown.get("scene", "")), "")
    for key in _DATE_KEYS:
        value = shown.get(key)
        if isinstance(value, str):
            shown[key] = parse_date(value[:10]) or value
    for key in _DATETIME_KEYS:
        value = shown.get(key)
        if isinstance(value, str):
            parsed = parse_datetime(value)
            if parsed is not None:
                if timezone.is_naive(parsed):
                    parsed = timezone.make_aware(parsed, dt.UTC)
                shown[key] = timezone.localtime(parsed)
    return shown


def message_render(*, event: str, channel: str, language: str | None, context: dict) -> Message:
    """The message for one event and channel in the given language (Chinese when unknown)."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    template = _engine().get_template(template_name(event=event, channel=channel, language=language))
    with translation.override(language):
        text = template.render(Context(_display_context(context, language), autoescape=False))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if channel == Channel.SMS:
        return Message(title="", body=("" if language == Language.ZH_HANS else " ").join(lines))
    return Message(title=lines[0] if lines else "", body="\n".join(lines[1:]))
