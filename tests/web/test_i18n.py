"""The Chinese catalogue covers every message and the pages follow the chosen language."""

import re
from pathlib import Path

import pytest
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries(text: str):
    for block in text.split("\n\n"):
        if "fuzzy" in "".join(line for line in block.splitlines() if line.startswith("#,")):
            yield block, True
            continue
        yield block, False


def _joined(block: str, key: str) -> str:
    match = re.search(rf'^{re.escape(key)} ((?:".*"\n?)+)', block + "\n", re.MULTILINE)
    if not match:
        return ""
    return "".join(re.findall(r'"(.*)"', match.group(1)))


def test_every_message_has_a_chinese_translation():
    missing = []
    for block, fuzzy in _entries(CATALOGUE.read_text(encoding="utf-8")):
        msgid = _joined(block, "msgid")
        if not msgid:
            continue
        translated = _joined(block, "msgstr") or _joined(block, "msgstr[0]")
        if fuzzy or not translated:
            missing.append(msgid)
    assert missing == []


@pytest.mark.django_db
@pytest.mark.embedded
def test_the_sign_in_page_follows_the_chosen_language(client):
    assert "登录" in client.get("/login/").content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/login/").content.decode()
    assert '<html lang="en">' in page and "Sign in" in page
