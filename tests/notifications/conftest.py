import json
from pathlib import Path

import pytest
from django.core import mail

from notifications.services import notification_create
from tests.factories import person_factory

FILE_PROVIDER = "notifications.providers.FileProvider"
FAILING_PROVIDER = "notifications.providers.FailingProvider"


class Outbox:
    """What the providers sent: FileProvider lines per channel, and Django's locmem email outbox."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def messages(self, channel: str) -> list[dict]:
        if channel == "email":
            return [
                {"to": m.to, "subject": m.subject, "text": m.body, **m.extra_headers} for m in mail.outbox
            ]
        path = self.directory / f"{channel}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def count(self, channel: str) -> int:
        return len(self.messages(channel))


@pytest.fixture
def outbox(settings, tmp_path) -> Outbox:
    settings.NOTIFICATION_OUTBOX_DIR = tmp_path
    settings.NOTIFICATION_SMS_BACKEND = FILE_PROVIDER
    settings.NOTIFICATION_WECHAT_BACKEND = FILE_PROVIDER
    mail.outbox = []
    return Outbox(tmp_path)


@pytest.fixture
def person(db):
    return person_factory(email="zhang@example.com")


@pytest.fixture
def notify(django_capture_on_commit_callbacks):
    """Creates a notification in a transaction and runs what is queued on commit (tasks are eager here)."""

    def make(person, event="filing_submitted", context=None):
        with django_capture_on_commit_callbacks(execute=True):
            notification_create(person=person, event=event, context=context or {"filing_id": 7})

    return make
