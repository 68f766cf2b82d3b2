import json
import logging

import pytest

from notifications.providers import (
    ConsoleProvider,
    FailingProvider,
    FileProvider,
    ProviderError,
    provider_for,
)

PHONE = "13912345678"
SEND = {
    "to": PHONE,
    "template_code": "ecode_activated",
    "params": {},
    "text": "你好",
    "idempotency_key": "k-1",
}


def test_file_provider_appends_one_line_per_message_without_the_phone_in_clear(settings, tmp_path):
    settings.NOTIFICATION_OUTBOX_DIR = tmp_path
    provider = FileProvider(channel="sms")

    first = provider.send(**SEND)
    second = provider.send(**{**SEND, "idempotency_key": "k-2"})

    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [first, second]
    assert lines[0]["to"] == "139****5678" and PHONE not in (tmp_path / "sms.jsonl").read_text()
    assert lines[0]["idempotency_key"] == "k-1" and lines[0]["text"] == "你好"


def test_file_provider_without_a_directory_fails_as_a_provider_error(settings):
    settings.NOTIFICATION_OUTBOX_DIR = None
    with pytest.raises(ProviderError):
        FileProvider(channel="sms").send(**SEND)


def test_console_provider_logs_without_the_phone_in_clear(settings, caplog):
    settings.NOTIFICATION_OUTBOX_DIR = None
    with caplog.at_level(logging.INFO, logger="notifications.providers"):
        message_id = ConsoleProvider(channel="wechat").send(**SEND)

    assert message_id.startswith("console-")
    assert "139****5678" in caplog.text and PHONE not in caplog.text


def test_failing_provider_raises():
    with pytest.raises(ProviderError, match="gateway unavailable"):
        FailingProvider(channel="sms").send(**SEND)


def test_backends_are_chosen_by_settings(settings):
    settings.NOTIFICATION_SMS_BACKEND = "notifications.providers.FailingProvider"
    settings.NOTIFICATION_WECHAT_BACKEND = "notifications.providers.FileProvider"
    assert isinstance(provider_for("sms"), FailingProvider)
    assert isinstance(provider_for("wechat"), FileProvider) and provider_for("wechat").channel == "wechat"
