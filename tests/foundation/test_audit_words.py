"""Audit events are read in words, in the reader's language: one table (core.audit.ACTION_WORDS) for every action
the code records, and each state in its model's own words."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from core.audit import ACTION_WORDS, audit_action_words, audit_change_words, audit_history
from filing.services import filing_submit
from tests.factories import person_factory
from tests.filing.factories import draft, policy

APPS = ("accounts", "core", "ecode", "filing", "his", "notifications", "reference", "settlement", "web")


def recorded_actions() -> set[str]:
    """Every action name the code passes to audit_record (filing transitions name theirs without the prefix)."""
    found = set()
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for match in re.finditer(r'action=("[a-z_.]+")(?: if [^\n]+ else ("[a-z_.]+"))?', text):
                for literal in filter(None, match.groups()):
                    name = literal.strip('"')
                    if "." in name:
                        found.add(name)
                    elif app == "filing" and (path.name == "services.py" or "services" in path.parts):
                        found.add(f"filing.{name}")
    return found


def test_every_recorded_action_has_words():
    actions = recorded_actions()
    assert {"filing.submit", "filing.approve", "ecode.suspend", "settlement.settle"} <= actions
    assert actions - set(ACTION_WORDS) == set()


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hans", ["创建草稿", "提交审核", "审核通过"]),
        ("en", ["Draft created", "Submitted for review", "Approved"]),
    ],
)
def test_actions_read_in_the_readers_language(language, words):
    with translation.override(language):
        assert [audit_action_words(a) for a in ("filing.create", "filing.submit", "filing.approve")] == words
        assert audit_action_words("something.new") == "something.new"  # never hidden


@pytest.mark.django_db
@pytest.mark.embedded
def test_a_state_change_reads_in_the_models_own_words():
    policy("510100", instant_approval=False)
    person = person_factory(insured_region="510100")
    filing = filing_submit(filing=draft(person), actor=person.user)
    created, submitted = audit_history(filing)
    with translation.override("zh-hans"):
        assert audit_change_words(created) == "草稿"
        assert audit_change_words(submitted) == "草稿 → 已提交"
    with translation.override("en"):
        assert audit_change_words(submitted) == "Draft → Submitted"
