"""Small template helpers for the pages: inline icons, the tab bar and status labels."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# 24x24 stroke icons (drawn for this project); inline SVG needs no extra request and no third-party host.
_PATHS = {
    "home": '<path d="M3 10.5 12 3l9 7.5"/><path d="M5 9.5V20h5v-6h4v6h5V9.5"/>',
    "filing": '<path d="M7 3h7l5 5v13H7z"/><path d="M14 3v5h5"/><path d="M10 13h6M10 17h6"/>',
    "qrcode": '<rect x="3" y="3" width="7" height="7" rx="1"/><rect x="14" y="3" width="7" height="7" rx="1"/>'
    '<rect x="3" y="14" width="7" height="7" rx="1"/><path d="M14 14h3v3h-3zM20 14v.01M17 20h4M20 17v3"/>',
    "bell": '<path d="M6 16V11a6 6 0 1 1 12 0v5l2 2H4z"/><path d="M10 20a2 2 0 0 0 4 0"/>',
    "user": '<circle cx="12" cy="8" r="4"/><path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6"/>',
    "back": '<path d="M15 5l-7 7 7 7"/>',
    "chevron": '<path d="M9 5l7 7-7 7"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>',
    "sun": '<circle cx="12" cy="12" r="4"/><path d="M12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4'
    'M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4"/>',
    "ok": '<circle cx="12" cy="12" r="9"/><path d="M8 12.5l3 3 5-6"/>',
    "bad": '<circle cx="12" cy="12" r="9"/><path d="M9 9l6 6M15 9l-6 6"/>',
    "warn": '<path d="M12 3 2 20h20z"/><path d="M12 10v4M12 17v.01"/>',
    "camera": '<path d="M4 7h4l2-2h4l2 2h4v12H4z"/><circle cx="12" cy="13" r="3.5"/>',
    "logout": '<path d="M15 4h4v16h-4"/><path d="M10 8l-4 4 4 4M6 12h10"/>',
    "globe": '<circle cx="12" cy="12" r="9"/><path d="M3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18"/>',
    "inbox": '<path d="M3 13l3-8h12l3 8v6H3z"/><path d="M3 13h5l1 3h6l1-3h5"/>',
    "plus": '<path d="M12 5v14M5 12h14"/>',
    "hospital": '<path d="M4 21V6h16v15"/><path d="M12 9v6M9 12h6M2 21h20"/>',
    "clock": '<circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>',
    "lock": '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V8a4 4 0 0 1 8 0v3"/>',
    "doc": '<path d="M7 3h7l5 5v13H7z"/><path d="M14 3v5h5"/>',
    "help": '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17v.01"/>',
}


@register.simple_tag
def icon(name: str, label: str = "") -> str:
    """An inline SVG icon; decorative unless a label is given."""
    aria = format_html('role="img" aria-label="{}"', label) if label else mark_safe('aria-hidden="true"')  # noqa: S308
    return format_html(
        '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
        'stroke-linejoin="round" {}>{}</svg>',
        aria,
        mark_safe(_PATHS[name]),  # noqa: S308 - constant markup defined above
    )


_STATUS_TONES = {
    "draft": "",
    "submitted": "orange",
    "approved": "green",
    "rejected": "red",
    "cancelled": "",
    "revoked": "red",
    "expired": "",
    "superseded": "",
}


@register.filter
def status_tone(status: str) -> str:
    """The colour of a filing status tag."""
    return _STATUS_TONES.get(str(status), "")


@register.inclusion_tag("web/_tabbar.html", takes_context=True)
def tabbar(context, current: str):
    """The mini-program-like bottom tab bar, with the unread notice count."""
    from notifications.selectors import unread_count

    user = context["request"].user
    person = getattr(user, "person", None) if user.is_authenticated else None
    return {"current": current, "unread": unread_count(person=person) if person is not None else 0}


@register.filter
def digit_groups(value: str, size: int = 4) -> str:
    """A long code in groups of `size` digits, for reading aloud or typing (counters ignore the spaces)."""
    text = str(value or "")
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _wide(char: str) -> bool:
    return ord(char) >= 0x2E80  # CJK characters and full-width punctuation


_CLOSING = "。！？；：，、）」』"


@register.filter
def one_line(value: str) -> str:
    """A notice's lines as one line for a preview. Chinese lines meet without a space after their closing mark
    (no "。 "), or with "；" where a line has none (a "label：value" line); other lines with a space."""
    lines = [line.strip() for line in str(value or "").splitlines() if line.strip()]
    text = ""
    for line in lines:
        if text:
            if text[-1] in _CLOSING:
                pass
            elif _wide(text[-1]) or _wide(line[0]):
                text += "；"
            else:
                text += " "
        text += line
    return text
