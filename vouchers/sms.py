"""SMS sending through a pluggable backend (``SMS_BACKEND`` setting)."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider refused or could not deliver the message."""


class ConsoleSmsBackend:
    """Write messages to the log: for development and demos."""

    def send(self, *, to: str, text: str) -> None:
        logger.info("SMS to %s: %s", to, text)


class LocmemSmsBackend:
    """Keep messages in memory: for tests."""

    outbox: list[dict] = []

    def send(self, *, to: str, text: str) -> None:
        type(self).outbox.append({"to": to, "text": text})


def sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "vouchers.sms.ConsoleSmsBackend"))()
