"""SMS and WeChat template-message providers.

A provider is chosen per channel by a dotted path in settings (`NOTIFICATION_SMS_BACKEND`,
`NOTIFICATION_WECHAT_BACKEND`). To connect a real gateway, subclass `Provider`, implement `send`, and point
the setting at the class; options come from your own settings. The contract:

- `send(*, to, template_code, params, text, idempotency_key) -> str` returns the gateway's message id.
- `to` is the recipient's mobile number (WeChat gateways resolve the subscriber bound to that number).
- `template_code` names the approved template (the event, e.g. `filing_approved`); `params` are the event's
  context (ids, place names, dates, reasons: no personal data); `text` is our rendered text in the person's
  language, for gateways that take free text.
- `idempotency_key` is stable across retries of one delivery: pass it to the gateway so that a retry after a
  lost response is not sent twice.
- Raise `ProviderError` for any failure; its message is stored on the delivery and shown in admin, so it must
  not contain the phone number or any other personal data. The caller retries with backoff.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from core.masking import mask_phone

from .choices import Channel
from .errors import ProviderError

__all__ = ["ConsoleProvider", "FailingProvider", "FileProvider", "Provider", "ProviderError", "provider_for"]

logger = logging.getLogger(__name__)


class Provider:
    """Sends one message through an external gateway; see the module docstring for the contract."""

    def __init__(self, *, channel: str) -> None:
        self.channel = channel

    def send(self, *, to: str, template_code: str, params: dict, text: str, idempotency_key: str) -> str:
        raise NotImplementedError


class FileProvider(Provider):
    """Appends each message as one JSON line to `<NOTIFICATION_OUTBOX_DIR>/<channel>.jsonl` (development, tests)."""

    def send(self, *, to: str, template_code: str, params: dict, text: str, idempotency_key: str) -> str:
        directory = getattr(settings, "NOTIFICATION_OUTBOX_DIR", None)
        if not directory:
            raise ProviderError("NOTIFICATION_OUTBOX_DIR is not set")
        message_id = f"file-{uuid.uuid4().hex}"
        record = {
            "id": message_id,
            "at": timezone.now().isoformat(),
            "channel": self.channel,
            "to": mask_phone(to),
            "template_code": template_code,
            "params": params,
            "text": text,
            "idempotency_key": idempotency_key,
        }
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        try:
            with open(path / f"{self.channel}.jsonl", "a", encoding="utf-8") as outbox:
                outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise ProviderError(f"cannot write the outbox file: {exc.strerror}") from exc
        return message_id


class ConsoleProvider(FileProvider):
    """The development default: writes to the outbox files when NOTIFICATION_OUTBOX_DIR is set, else logs."""

    def send(self, *, to: str, template_code: str, params: dict, text: str, idempotency_key: str) -> str:
        if getattr(settings, "NOTIFICATION_OUTBOX_DIR", None):
            return super().send(
                to=to, template_code=template_code, params=params, text=text, idempotency_key=idempotency_key
            )
        logger.info("%s to %s [%s]: %s", self.channel, mask_phone(to), idempotency_key, text)
        return f"console-{uuid.uuid4().hex}"


class FailingProvider(Provider):
    """Always fails (tests and drills of the retry path)."""

    error = "gateway unavailable (FailingProvider)"

    def send(self, *, to: str, template_code: str, params: dict, text: str, idempotency_key: str) -> str:
        raise ProviderError(self.error)


def provider_for(channel: str) -> Provider:
    """The configured provider of an SMS or WeChat channel."""
    setting = {Channel.SMS: "NOTIFICATION_SMS_BACKEND", Channel.WECHAT: "NOTIFICATION_WECHAT_BACKEND"}[
        Channel(channel)
    ]
    return import_string(getattr(settings, setting))(channel=Channel(channel).value)
