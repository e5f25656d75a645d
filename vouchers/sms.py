"""SMS sending through a pluggable backend (``SMS_BACKEND`` setting).

A backend sends a message and returns the provider's id for it, then answers, for that id,
whether the provider delivered it (``delivery_status``). ``reaches_phones`` says whether
what it sends can reach a phone at all: a message given to one that cannot is recorded as
written only to the log, never as sent. Production uses a real provider
(``SkebbySmsBackend``); the console and in-memory backends are for development and tests,
and production refuses to start with them while SMS is enabled (``SMS_ENABLED``).
"""

import itertools
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import requests
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The provider refused or could not take the message, or could not be asked about it."""


class Delivery(StrEnum):
    PENDING = "pending"  # no final receipt yet
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryReceipt:
    delivery: Delivery
    detail: str = ""  # the provider's own word for it (DLVRD, ERROR, UNKNRCPT…)


def international_number(number: str) -> str:
    """An Italian mobile number as providers want it: +39 and the digits, no spaces."""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if not digits.startswith("+"):
        digits = "+39" + digits
    return digits


class ConsoleSmsBackend:
    """Write messages to the log: for development and demos; nothing reaches a phone."""

    reaches_phones = False

    def send(self, *, to: str, text: str) -> str:
        logger.info("SMS to %s: %s", to, text)
        return ""

    def delivery_status(self, message_id: str) -> DeliveryReceipt:
        return DeliveryReceipt(Delivery.PENDING)


class LocmemSmsBackend:
    """Keep messages in memory, for tests: nothing reaches a phone."""

    reaches_phones = False

    outbox: list[dict] = []
    receipts: dict[str, DeliveryReceipt] = {}
    _ids = itertools.count(1)

    def send(self, *, to: str, text: str) -> str:
        message_id = f"locmem-{next(self._ids)}"
        type(self).outbox.append({"to": to, "text": text, "id": message_id})
        return message_id

    def delivery_status(self, message_id: str) -> DeliveryReceipt:
        return type(self).receipts.get(message_id, DeliveryReceipt(Delivery.PENDING))


# The provider's words for a message's state, by what they mean for the applicant.
SKEBBY_DELIVERED = {"DLVRD"}
SKEBBY_FAILED = {
    "ERROR",
    "TIMEOUT",
    "TOOM4NUM",
    "TOOM4USER",
    "UNKNPFX",
    "UNKNRCPT",
    "BLACKLISTED",
    "KO",
    "NOT_DELIVERED",
}


class SkebbySmsBackend:
    """The REST API v1.0 that Skebby, Aruba SMS and Mobyt share.

    Configured from the environment: ``SMS_API_URL`` (the brand's base address),
    ``SMS_USER_KEY`` and ``SMS_ACCESS_TOKEN`` (from the provider's panel, API section),
    ``SMS_SENDER`` (the alias registered with the provider) and ``SMS_MESSAGE_TYPE`` (``GP``,
    high quality with delivery receipt). A message is sent with ``POST sms`` and its state
    read with ``GET sms/<order_id>``.
    """

    reaches_phones = True

    def __init__(self):
        self.base_url = settings.SMS_API_URL.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "user_key": settings.SMS_USER_KEY,
                "Access_token": settings.SMS_ACCESS_TOKEN,
                "Content-Type": "application/json",
            }
        )
        self.timeout = settings.SMS_TIMEOUT_SECONDS

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self.session.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as error:
            raise SmsError(f"SMS provider unreachable: {error}") from error
        if response.status_code >= 400:
            raise SmsError(f"SMS provider answered {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as error:
            raise SmsError(f"SMS provider answered no JSON: {response.text[:200]}") from error

    def send(self, *, to: str, text: str) -> str:
        payload = {
            "message_type": settings.SMS_MESSAGE_TYPE,
            "message": text,
            "recipient": [international_number(to)],
            "returnCredits": False,
        }
        if settings.SMS_SENDER:
            payload["sender"] = settings.SMS_SENDER
        answer = self._call("POST", "sms", json=payload)
        order_id = str(answer.get("order_id") or "")
        if answer.get("result") != "OK" or not order_id:
            raise SmsError(f"SMS provider refused the message: {answer}")
        return order_id

    def delivery_status(self, message_id: str) -> DeliveryReceipt:
        answer = self._call("GET", f"sms/{message_id}")
        recipients = answer.get("recipients") or []
        status = str(recipients[0].get("status", "")).upper() if recipients else ""
        if status in SKEBBY_DELIVERED:
            return DeliveryReceipt(Delivery.DELIVERED, status)
        if status in SKEBBY_FAILED:
            return DeliveryReceipt(Delivery.FAILED, status)
        return DeliveryReceipt(Delivery.PENDING, status)


class SmsBackend(Protocol):
    """What every backend offers (see above)."""

    reaches_phones: bool

    def send(self, *, to: str, text: str) -> str: ...

    def delivery_status(self, message_id: str) -> DeliveryReceipt: ...


def sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
