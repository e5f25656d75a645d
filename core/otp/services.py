"""Two-factor authentication's use cases: enrol an authenticator, verify a code, renew the
backup codes, reset a lost phone."""

from __future__ import annotations

import logging
import math
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.errors import DomainError

logger = logging.getLogger(__name__)

BACKUP_CODE_COUNT = 10


class TwoFactorError(DomainError):
    messages = {
        "otp_invalid_code": _("Codice non valido. Controlla l'app e riprova."),
        "otp_throttled": _("Troppi codici sbagliati: riprova tra %(seconds)s s."),
        "otp_already_enrolled": _("La verifica in due passaggi è già attiva."),
        "otp_not_enrolled": _("La verifica in due passaggi non è attiva."),
        "otp_no_enrolment": _(
            "Attivazione scaduta: ricarica la pagina e inquadra il nuovo codice QR."
        ),
    }


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the request's user gave his second factor in this session."""
    # django-otp's OTPMiddleware sets ``is_verified`` on the request's user.
    return bool(user.is_verified())  # type: ignore[union-attr]


def authenticator_for(user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if he has enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def backup_codes_left(user: AbstractBaseUser) -> int:
    count: int = StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
    return count


def normalize_code(code: str) -> str:
    """People copy codes with spaces or dashes and in either case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def _lock_user(user: AbstractBaseUser) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _check_code(device: Device, code: str) -> None:
    """Check a code against one device, recording a failure for the device's throttling.

    The check commits on its own: a refused code must still count towards the delay
    django-otp imposes before the next attempt, so callers raise only after it.
    """
    with transaction.atomic():
        device = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, details = device.verify_is_allowed()
        verified = allowed and device.verify_token(code)
    if not allowed:
        wait = (details or {}).get("locked_until")
        seconds = max(1, math.ceil((wait - timezone.now()).total_seconds())) if wait else 1
        raise TwoFactorError("otp_throttled", seconds=seconds)
    if not verified:
        raise TwoFactorError("otp_invalid_code")


@transaction.atomic
def otp_enrolment_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """Give the user an authenticator to scan: the same one until he confirms it."""
    _lock_user(user)
    if authenticator_for(user) is not None:
        raise TwoFactorError("otp_already_enrolled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=gettext("App di autenticazione"), confirmed=False
        )
    return device


def otp_enrolment_confirm(*, user: AbstractBaseUser, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the user's new authenticator with a code from it; issue his backup codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        if authenticator_for(user) is not None:
            raise TwoFactorError("otp_already_enrolled")
        raise TwoFactorError("otp_no_enrolment")
    _check_code(device, normalize_code(code))
    with transaction.atomic():
        _lock_user(user)
        if authenticator_for(user) is not None:
            raise TwoFactorError("otp_already_enrolled")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _issue_backup_codes(user)
    logger.info("Two-factor authentication enrolled for user %s", user.pk)
    return device, codes


def otp_verify(*, user: AbstractBaseUser, code: str) -> Device:
    """Check a code from the user's app, or one of his backup codes (used up by this)."""
    code = normalize_code(code)
    if code.isdigit():
        device = authenticator_for(user)
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if authenticator_for(user) is None:
            device = None
    if device is None:
        raise TwoFactorError("otp_invalid_code")
    _check_code(device, code)
    return device


def _issue_backup_codes(user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(
        user=user, name=gettext("Codici di emergenza"), confirmed=True
    )
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def otp_backup_codes_renew(*, user: AbstractBaseUser) -> list[str]:
    """Replace the user's backup codes with a new set; the old ones stop working."""
    _lock_user(user)
    if authenticator_for(user) is None:
        raise TwoFactorError("otp_not_enrolled")
    codes = _issue_backup_codes(user)
    logger.info("Backup codes renewed for user %s", user.pk)
    return codes


@transaction.atomic
def otp_reset(*, user: AbstractBaseUser, by: AbstractBaseUser | None = None) -> int:
    """Remove the user's authenticators and backup codes, after a lost or replaced phone.

    Returns how many devices were removed. His open sessions lose their verification: at
    the next staff page he enrols again (or, where it is not required, goes on without).
    """
    _lock_user(user)
    removed: int = TOTPDevice.objects.filter(user=user).count()
    removed += StaticDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    logger.warning(
        "Two-factor authentication reset for user %s by %s (%s devices)",
        user.pk,
        by.pk if by is not None else "command line",
        removed,
    )
    return removed
