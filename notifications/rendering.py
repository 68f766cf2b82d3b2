"""Message texts: `templates/notifications/<event>/<channel>.<language>.txt`, rendered without HTML escaping.

The first line of an inbox, WeChat or email template is its title (subject); the rest is the body. SMS
templates are the body only. A missing optional context key renders as nothing.
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
    return Engine(dirs=dirs, autoescape=False, libraries={}, builtins=["django.templatetags.i18n"])


def template_name(*, event: str, channel: str, language: str) -> str:
    return f"notifications/{Event(event).value}/{Channel(channel).value}.{language}.txt"


def _display_context(context: dict) -> dict:
    """Turns ISO strings of known keys into dates and local datetimes, so templates can format them."""
    shown = dict(context)
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
        text = template.render(Context(_display_context(context), autoescape=False))
    lines = [line.rstrip() for line in text.strip().splitlines()]
    if channel == Channel.SMS:
        joiner = "" if language == Language.ZH_HANS else " "
        return Message(title="", body=joiner.join(line.strip() for line in lines if line.strip()))
    title, body = (lines[0], lines[1:]) if lines else ("", [])
    return Message(title=title.strip(), body=_collapse_blank_lines(body))


def _collapse_blank_lines(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if not line and (not kept or not kept[-1]):
            continue
        kept.append(line)
    return "\n".join(kept).strip()
