"""How beneficiaries log in without a password: a link by e-mail or a printed access code."""

import functools
import hashlib
import logging
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from core.mail import PlainTextEmail
from core.rate_limits import Counter, attempt_count, attempts_forget, counter_key, limit_reached
from vouchers.codes import ALPHABET, group_code
from vouchers.models import Beneficiary, LoginLink
from vouchers.task_queue import LOGIN_LINK_SEND, task_enqueue

LINK_LIFETIME = timedelta(minutes=30)
ACCESS_CODE_LENGTH = 12  # 60 bits, typed from paper; attempts are limited below
MAX_FAILURES = 5  # per fiscal code and client address
MAX_FAILURES_PER_IP = 50  # whatever the fiscal codes: each check costs a hash
LOCK_TIME = timedelta(minutes=15)
# Login links asked for one e-mail address, and from one client address, in a window.
LINK_REQUESTS_PER_EMAIL = 3
LINK_REQUESTS_PER_IP = 20
LINK_REQUEST_WINDOW_SECONDS = 15 * 60

logger = logging.getLogger(__name__)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def beneficiary_user(*, beneficiary: Beneficiary) -> User:
    """Return the app account of a beneficiary, creating it on first login."""
    if beneficiary.user is not None:
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


def _link_request_counters(*, email: str, client_ip: str | None) -> list[Counter]:
    counters = [
        Counter(
            key=counter_key("login-link:email", email.lower()),
            limit=LINK_REQUESTS_PER_EMAIL,
            seconds=LINK_REQUEST_WINDOW_SECONDS,
        )
    ]
    if client_ip is not None:
        counters.append(
            Counter(
                key=counter_key("login-link:ip", client_ip),
                limit=LINK_REQUESTS_PER_IP,
                seconds=LINK_REQUEST_WINDOW_SECONDS,
            )
        )
    return counters


def login_link_request(*, email: str, link_template: str, client_ip: str | None) -> None:
    """Ask for a login link for this address: the same work whether anybody has it or not.

    Looking the address up, writing the link and sending the e-mail happen in the background
    after the request (``link_template`` is the link's absolute URL with ``{token}`` where its
    token goes), so neither the time taken nor a mail server that is down tells who is
    registered. Too many requests for one address, or from one client address, are refused
    with ``AccessRefused(locked=True)`` whatever the address.
    """
    email = (email or "").strip()
    counters = _link_request_counters(email=email, client_ip=client_ip)
    if limit_reached(counters):
        raise AccessRefused(locked=True)
    attempt_count(counters)
    language = get_language()

    def enqueue() -> None:
        try:
            task_enqueue(
                LOGIN_LINK_SEND, email=email, link_template=link_template, language=language
            )
        except Exception:
            # The queue (or, with tasks run inline, the mail server) is down: the person
            # reads the same page and may ask again; the operators read the log.
            logger.exception("Could not send a login link")

    transaction.on_commit(enqueue)


def login_link_send(*, email: str, link_template: str) -> bool:
    """E-mail a login link to the beneficiary with this address; do nothing if none.

    Returns whether a link went out (for tests and logs only).
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
    PlainTextEmail(
        subject=_("Il tuo accesso a BuonoComune"),
        body=_(
            "Buongiorno %(name)s,\napri questo link per vedere i tuoi buoni "
            "(vale 30 minuti e una sola volta):\n%(url)s\n\nSe non hai chiesto tu "
            "l'accesso, ignora questo messaggio."
        )
        % {"name": beneficiary.first_name, "url": link_template.replace("{token}", token)},
        to=[beneficiary.email],
    ).send()
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
    beneficiary.save(update_fields=["access_code_hash"])
    return group_code(raw, size=4)


class AccessRefused(Exception):
    def __init__(self, locked: bool):
        self.locked = locked
        super().__init__("locked" if locked else "wrong")


@functools.cache
def _stand_in_hash(algorithm: str) -> str:
    """A hash of a random code, checked when no code is on file, to take the same time."""
    return make_password(secrets.token_urlsafe(16))


def _access_code_counters(
    *, fiscal_code: str, client_ip: str | None
) -> tuple[Counter, Counter, list[Counter]]:
    seconds = int(LOCK_TIME.total_seconds())
    failures = Counter(
        key=counter_key("access-code:failures", fiscal_code, client_ip),
        limit=MAX_FAILURES,
        seconds=seconds,
    )
    lock = Counter(
        key=counter_key("access-code:lock", fiscal_code, client_ip), limit=1, seconds=seconds
    )
    per_ip = (
        [
            Counter(
                key=counter_key("access-code:ip-failures", client_ip),
                limit=MAX_FAILURES_PER_IP,
                seconds=seconds,
            )
        ]
        if client_ip is not None
        else []
    )
    return failures, lock, per_ip


def access_code_login(
    *, fiscal_code: str, access_code: str, client_ip: str | None = None
) -> Beneficiary:
    """Check a fiscal code and access code.

    Known or not, a fiscal code takes the same time to check (the hasher runs on a stand-in
    when there is no code to compare with) and gets the same answers: ``MAX_FAILURES``
    failures from one client address lock that fiscal code from that address, and only from
    it, for ``LOCK_TIME``, whether or not anybody has it; ``MAX_FAILURES_PER_IP`` failures
    from one address, whatever the fiscal codes, lock that address. A call without
    ``client_ip`` (a script) is counted with every other call without one.
    """
    fiscal_code = (fiscal_code or "").strip().upper()
    cleaned = "".join(ch for ch in (access_code or "").upper() if ch.isalnum())
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    failures, lock, per_ip = _access_code_counters(fiscal_code=fiscal_code, client_ip=client_ip)
    if limit_reached([lock, *per_ip]):
        raise AccessRefused(locked=True)
    with transaction.atomic():
        beneficiary = (
            Beneficiary.objects.select_for_update().filter(fiscal_code=fiscal_code).first()
        )
        stored = beneficiary.access_code_hash if beneficiary is not None else ""
        matches = check_password(cleaned, stored or _stand_in_hash(get_hasher().algorithm))
        if matches and stored and beneficiary is not None:
            beneficiary_user(beneficiary=beneficiary)
            attempts_forget([failures.key])
            return beneficiary
    attempt_count(per_ip)
    if attempt_count([failures]) >= failures.limit:
        attempts_forget([failures.key])
        attempt_count([lock])
        raise AccessRefused(locked=True)
    raise AccessRefused(locked=False)
