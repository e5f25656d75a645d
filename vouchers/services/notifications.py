"""Outcome communications: e-mail, SMS or a printed letter for each applicant."""

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from string import Template

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.money import format_euro
from vouchers.models import Application, Initiative, Notification, OutcomeTemplate
from vouchers.outcome_texts import (
    DEFAULT_FUNDED_BEFORE_ISSUE,
    DEFAULT_FUNDED_BY_KIND,
    DEFAULT_TEXTS,
)
from vouchers.selectors.payments import iban_ending
from vouchers.services.initiatives import VOUCHER_KINDS
from vouchers.sms import Delivery, DeliveryReceipt, SmsError, sms_backend
from vouchers.task_queue import BROKER_UNAVAILABLE, NOTIFICATIONS_SEND, task_enqueue

logger = logging.getLogger(__name__)


SMS_LENGTH = 459  # three concatenated SMS


# The states of a message that went out.
SENT_STATUSES = (Notification.Status.SENT, Notification.Status.DELIVERED)


# A letter that replaces an SMS keeps the phone number it was meant for; other letters have none.
UNDELIVERED_SMS_LETTERS = Q(channel=Notification.Channel.LETTER) & ~Q(recipient="")


def application_outcome(application: Application) -> OutcomeTemplate.Outcome | None:
    """The outcome to communicate, or None while the application is still open."""
    if application.status == Application.Status.REJECTED:
        return OutcomeTemplate.Outcome.REJECTED
    if application.status != Application.Status.APPROVED:
        return None
    if application.outcome in (Application.Outcome.FUNDED, Application.Outcome.ISSUED):
        return OutcomeTemplate.Outcome.FUNDED
    if application.outcome == Application.Outcome.WAITING:
        return OutcomeTemplate.Outcome.WAITING
    return None


def render_outcome(
    *,
    application: Application,
    outcome: OutcomeTemplate.Outcome,
    templates: dict[str, OutcomeTemplate],
) -> tuple[str, str]:
    """Return the subject and body of the message, from the call's template or the default."""
    template = templates.get(outcome)
    default = DEFAULT_TEXTS[outcome]
    if outcome == OutcomeTemplate.Outcome.FUNDED:
        if application.outcome != Application.Outcome.ISSUED:
            default = DEFAULT_FUNDED_BEFORE_ISSUE
        default = DEFAULT_FUNDED_BY_KIND.get(application.initiative.benefit_kind, default)
    subject, body = (
        (template.subject, template.body) if template else (str(default[0]), str(default[1]))
    )
    last_decision = application.decisions.order_by("-decided_at", "-id").first()
    values = {
        "nome": application.applicant.full_name,
        "protocollo": application.protocol_number,
        "bando": application.initiative.title,
        "comune": application.municipality.name,
        "importo": format_euro(application.amount) if application.amount else "",
        "posizione": str(application.rank or ""),
        "motivazione": last_decision.reason if last_decision else "",
        "iban": iban_ending(application.iban),
    }
    return Template(subject).safe_substitute(values), Template(body).safe_substitute(values)


def initiative_notify_outcomes(
    *,
    initiative: Initiative,
    application_ids: list[int] | None = None,
    vouchers_available_only: bool = False,
    enqueue: bool = True,
) -> dict[str, int]:
    """Prepare one message per decided application not yet told; send them after commit.

    E-mail if the applicant has one, otherwise SMS, otherwise a letter to print. Running it
    again prepares nothing for applications already told of the same outcome. A funded
    applicant of a voucher call told before the vouchers were issued is told, once they
    are, that they are available (``vouchers_available_only``: only those notices).
    ``application_ids`` limits it to those applications. With ``enqueue`` false the caller
    hands the messages to the sending queue itself.
    """
    templates = {t.outcome: t for t in initiative.outcome_templates.all()}
    counts = {"email": 0, "sms": 0, "letter": 0}
    with transaction.atomic():
        applications = (
            initiative.applications.select_related("applicant", "municipality", "initiative")
            .exclude(status__in=[Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED])
            .order_by("pk")
        )
        if application_ids is not None:
            applications = applications.filter(pk__in=application_ids)
        if vouchers_available_only:
            applications = applications.filter(
                outcome=Application.Outcome.ISSUED,
                notifications__outcome=OutcomeTemplate.Outcome.FUNDED,
            ).exclude(notifications__outcome=OutcomeTemplate.Outcome.ISSUED)
        told = set(
            Notification.objects.filter(application__initiative=initiative).values_list(
                "application_id", "outcome"
            )
        )
        created = []
        for application in applications:
            outcome = application_outcome(application)
            if (
                outcome == OutcomeTemplate.Outcome.FUNDED
                and (application.pk, outcome) in told
                and application.outcome == Application.Outcome.ISSUED
                and initiative.benefit_kind in VOUCHER_KINDS
            ):
                outcome = OutcomeTemplate.Outcome.ISSUED
            elif vouchers_available_only:
                continue
            if outcome is None or (application.pk, outcome) in told:
                continue
            subject, body = render_outcome(
                application=application, outcome=outcome, templates=templates
            )
            applicant = application.applicant
            if applicant.email:
                channel, recipient, status = "email", applicant.email, Notification.Status.PENDING
            elif applicant.phone and settings.SMS_ENABLED:
                channel, recipient, status = "sms", applicant.phone, Notification.Status.PENDING
            else:
                channel, recipient, status = "letter", "", Notification.Status.TO_PRINT
            created.append(
                Notification(
                    application=application,
                    outcome=outcome,
                    channel=channel,
                    recipient=recipient,
                    subject=subject,
                    body=body,
                    status=status,
                )
            )
            counts[channel] += 1
        Notification.objects.bulk_create(created)
        if enqueue:
            transaction.on_commit(lambda: _enqueue_pending(initiative_id=initiative.pk))
    return counts


def _enqueue_pending(*, initiative_id: int) -> bool:
    """Hand the call's messages «Da inviare» to the sending queue; False if it is down."""
    try:
        task_enqueue(NOTIFICATIONS_SEND, initiative_id)
    except BROKER_UNAVAILABLE as error:
        # The messages stay «Da inviare»: telling the outcomes again sends them.
        logger.warning("Messages of call %s not queued: %s", initiative_id, error)
        return False
    return True


@dataclass(frozen=True)
class OutcomesTold:
    """What a click on «Comunica gli esiti» did."""

    prepared: dict[str, int]  # new messages, by channel
    waiting: int  # messages an earlier click prepared that were still «Da inviare»
    waiting_sent: int  # of those, sent now
    waiting_unsent: int  # of those, failed now or turned into letters
    waiting_logged: int  # of those, SMS written only to a development backend's log
    queued: bool | None  # the sending queue took the messages (None: it will after commit)
    still_pending: int  # messages of the call still «Da inviare» afterwards


def initiative_outcomes_tell(*, initiative: Initiative) -> OutcomesTold:
    """Prepare the call's new outcome messages and send them with those still waiting.

    Messages a queue outage left «Da inviare» go out with the new ones. Called outside a
    transaction, the messages are handed to the queue (and, with tasks run inline, sent)
    before it returns, so what it returns says what went out.
    """
    pending = Notification.objects.filter(
        application__initiative=initiative, status=Notification.Status.PENDING
    )
    waiting_ids = list(pending.values_list("pk", flat=True))
    prepared = initiative_notify_outcomes(initiative=initiative, enqueue=False)
    handed: list[bool] = []
    transaction.on_commit(lambda: handed.append(_enqueue_pending(initiative_id=initiative.pk)))
    after = Counter(
        Notification.objects.filter(pk__in=waiting_ids).values_list("status", flat=True)
    )
    return OutcomesTold(
        prepared=prepared,
        waiting=len(waiting_ids),
        waiting_sent=sum(after[status] for status in SENT_STATUSES),
        waiting_unsent=after[Notification.Status.FAILED] + after[Notification.Status.TO_PRINT],
        waiting_logged=after[Notification.Status.LOGGED],
        queued=handed[0] if handed else None,
        still_pending=pending.count(),
    )


def notification_send(*, notification: Notification) -> Notification:
    """Send one pending e-mail or SMS and record how it went.

    An SMS the provider does not take becomes a letter to print at once; one it takes waits
    for the provider's delivery receipt (``sms_receipts_check``). One given to a development
    backend, which reaches no phone, is recorded as written only to the log.
    """
    if notification.status != Notification.Status.PENDING:
        return notification
    provider_id = ""
    sent = Notification.Status.SENT
    try:
        if notification.channel == Notification.Channel.EMAIL:
            send_mail(
                notification.subject,
                notification.body,
                None,
                [notification.recipient],
                fail_silently=False,
            )
        else:
            backend = sms_backend()
            provider_id = backend.send(
                to=notification.recipient, text=notification.body[:SMS_LENGTH]
            )
            if not getattr(backend, "reaches_phones", True):
                sent = Notification.Status.LOGGED
    except SmsError as error:
        if notification.channel == Notification.Channel.SMS:
            logger.warning("SMS of notification %s not sent: %s", notification.pk, error)
            return notification_sms_undelivered(notification=notification, detail=str(error))
        notification.status = Notification.Status.FAILED
        notification.error = str(error)[:255]
    except OSError as error:
        notification.status = Notification.Status.FAILED
        notification.error = str(error)[:255]
    else:
        notification.status = sent
        notification.sent_at = timezone.now()
        notification.provider_id = provider_id or ""
    notification.save(update_fields=["status", "error", "sent_at", "provider_id"])
    return notification


def notification_sms_delivered(
    *, notification: Notification, at: datetime | None = None
) -> Notification:
    """Record the provider's receipt that an SMS reached the phone."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if (
            notification.channel != Notification.Channel.SMS
            or notification.status != Notification.Status.SENT
        ):
            return notification
        notification.status = Notification.Status.DELIVERED
        notification.delivered_at = at or timezone.now()
        notification.save(update_fields=["status", "delivered_at"])
    return notification


def notification_sms_undelivered(*, notification: Notification, detail: str) -> Notification:
    """An SMS that did not reach the applicant: turn it into a letter for the desk to print.

    The communication keeps the number (its recipient, which marks it as a letter in place of
    an SMS) and the provider's reason in its error, and joins the letters of the call to print
    («Stampa lettere»).
    """
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.channel != Notification.Channel.SMS or notification.status not in (
            Notification.Status.PENDING,
            Notification.Status.SENT,
        ):
            return notification
        notification.error = (
            _("SMS a %(number)s non consegnato (%(reason)s): lettera da stampare.")
            % {"number": notification.recipient, "reason": detail.strip() or "?"}
        )[:255]
        notification.channel = Notification.Channel.LETTER
        notification.status = Notification.Status.TO_PRINT
        notification.save(update_fields=["channel", "status", "error"])
    return notification


def sms_receipts_check(*, now: datetime | None = None) -> dict[str, int]:
    """Ask the provider how the SMS waiting for a receipt went, and record each answer.

    One still unconfirmed ``SMS_RECEIPT_WAIT_HOURS`` after it was sent gets a letter too.
    Returns how many were found delivered, undelivered and still waiting.
    """
    now = now or timezone.now()
    give_up_before = now - timedelta(hours=settings.SMS_RECEIPT_WAIT_HOURS)
    counts = {"delivered": 0, "undelivered": 0, "waiting": 0}
    backend = sms_backend()
    waiting = Notification.objects.filter(
        channel=Notification.Channel.SMS, status=Notification.Status.SENT
    ).order_by("pk")
    for notification in waiting.iterator():
        receipt = DeliveryReceipt(Delivery.PENDING)
        if notification.provider_id:
            try:
                receipt = backend.delivery_status(notification.provider_id)
            except SmsError as error:
                logger.warning("Receipt of SMS %s not read: %s", notification.provider_id, error)
        if receipt.delivery == Delivery.DELIVERED:
            notification_sms_delivered(notification=notification, at=now)
            counts["delivered"] += 1
        elif receipt.delivery == Delivery.FAILED:
            notification_sms_undelivered(notification=notification, detail=receipt.detail)
            counts["undelivered"] += 1
        elif notification.sent_at and notification.sent_at < give_up_before:
            notification_sms_undelivered(
                notification=notification,
                detail=_("nessuna conferma di consegna in %(hours)d ore")
                % {"hours": settings.SMS_RECEIPT_WAIT_HOURS},
            )
            counts["undelivered"] += 1
        else:
            counts["waiting"] += 1
    return counts


def pending_notifications_send(*, initiative_id: int) -> int:
    """Send every pending message of a call; return how many were sent."""
    sent = 0
    for notification in Notification.objects.filter(
        application__initiative_id=initiative_id, status=Notification.Status.PENDING
    ).order_by("pk"):
        if notification_send(notification=notification).status == Notification.Status.SENT:
            sent += 1
    return sent
