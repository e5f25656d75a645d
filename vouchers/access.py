"""How beneficiaries log in without a password: a link by e-mail or a printed access code."""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from vouchers.codes import ALPHABET, group_code
from vouchers.models import Beneficiary, LoginLink

LINK_LIFETIME = timedelta(minutes=30)
ACCESS_CODE_LENGTH = 12  # 60 bits, typed from paper; attempts are limited below
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def beneficiary_user(*, beneficiary: Beneficiary):
    """Return the app account of a beneficiary, creating it on first login."""
    if beneficiary.user_id:
        return beneficiary.user
    user = get_user_model().objects.create_user(
        username=f"beneficiario-{beneficiary.fiscal_code.lower()}",
        first_name=beneficiary.first_name,
        last_name=beneficiary.last_name,
        email=beneficiary.email,
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    beneficiary.user = user
    beneficiary.save(update_fields=["user"])
    return user


def login_link_send(*, email: str, build_url) -> bool:
    """E-mail a login link to the beneficiary with this address; say nothing if none.

    ``build_url(token)`` returns the absolute URL of the link. Returns whether a link went
    out (for tests and logs only: the page says the same thing in both cases).
    """
    email = (email or "").strip()
    beneficiary = Beneficiary.objects.filter(email__iexact=email).first() if email else None
    if beneficiary is None:
        return False
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        LoginLink.objects.create(
            beneficiary=beneficiary,
            token_hash=_digest(token),
            expires_at=timezone.now() + LINK_LIFETIME,
        )
        url = build_url(token)
        transaction.on_commit(
            lambda: send_mail(
                _("Il tuo accesso a BuonoComune"),
                _(
                    "Buongiorno %(name)s,\napri questo link per vedere i tuoi buoni "
                    "(vale 30 minuti e una sola volta):\n%(url)s\n\nSe non hai chiesto tu "
                    "l'accesso, ignora questo messaggio."
                )
                % {"name": beneficiary.first_name, "url": url},
                None,
                [beneficiary.email],
            )
        )
    return True


def login_link_consume(*, token: str) -> Beneficiary | None:
    """Use a login link once; return its beneficiary, or None if unknown, used or expired."""
    now = timezone.now()
    with transaction.atomic():
        used = LoginLink.objects.filter(
            token_hash=_digest(token or ""), used_at=None, expires_at__gt=now
        ).update(used_at=now)
        if not used:
            return None
        link = LoginLink.objects.select_related("beneficiary").get(token_hash=_digest(token))
        beneficiary_user(beneficiary=link.beneficiary)
        return link.beneficiary


def access_code_issue(*, beneficiary: Beneficiary, raw_code: str | None = None) -> str:
    """Give a beneficiary a new access code to print; the old one stops working.

    ``raw_code`` is only for the demo data, whose codes are derived from the secret key.
    """
    raw = raw_code or "".join(secrets.choice(ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
    beneficiary.access_code_hash = make_password(raw)
    beneficiary.access_code_failures = 0
    beneficiary.access_locked_until = None
    beneficiary.save(
        update_fields=["access_code_hash", "access_code_failures", "access_locked_until"]
    )
    return group_code(raw, size=4)


class AccessRefused(Exception):
    def __init__(self, locked: bool):
        self.locked = locked
        super().__init__("locked" if locked else "wrong")


def access_code_login(*, fiscal_code: str, access_code: str) -> Beneficiary:
    """Check a fiscal code and access code; lock the account after repeated failures."""
    cleaned = "".join(ch for ch in (access_code or "").upper() if ch.isalnum())
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    with transaction.atomic():
        beneficiary = (
            Beneficiary.objects.select_for_update()
            .filter(fiscal_code=(fiscal_code or "").strip().upper())
            .first()
        )
        if beneficiary is None or not beneficiary.access_code_hash:
            raise AccessRefused(locked=False)
        now = timezone.now()
        if beneficiary.access_locked_until and beneficiary.access_locked_until > now:
            raise AccessRefused(locked=True)
        if not check_password(cleaned, beneficiary.access_code_hash):
            beneficiary.access_code_failures += 1
            if beneficiary.access_code_failures >= MAX_FAILURES:
                beneficiary.access_locked_until = now + LOCK_TIME
                beneficiary.access_code_failures = 0
            beneficiary.save(update_fields=["access_code_failures", "access_locked_until"])
            locked = beneficiary.access_locked_until is not None and (
                beneficiary.access_locked_until > now
            )
            # Raised after the block, so that the failure count is committed.
            failure = AccessRefused(locked=locked)
        else:
            failure = None
            if beneficiary.access_code_failures:
                beneficiary.access_code_failures = 0
                beneficiary.save(update_fields=["access_code_failures"])
            beneficiary_user(beneficiary=beneficiary)
    if failure is not None:
        raise failure
    return beneficiary
