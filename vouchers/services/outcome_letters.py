"""Printing the outcome letters: each printed letter is recorded, and a funded applicant's
carries a new app access code.
"""

from django.db import transaction
from django.utils import timezone

from vouchers.models import Notification, OutcomeTemplate
from vouchers.outcome_letters import outcome_letters_pdf
from vouchers.services.access import access_code_issue

# The letters that bring an app access code: the money or the vouchers are there to follow.
ACCESS_CODE_OUTCOMES = (OutcomeTemplate.Outcome.FUNDED, OutcomeTemplate.Outcome.ISSUED)


def outcome_letters_print(*, notifications: list[Notification]) -> bytes:
    """Print the letters and mark them printed; a funded applicant's letter carries a new
    app access code (the previous one stops working), so people without e-mail can log in.
    """
    with transaction.atomic():
        codes = {
            notification.pk: access_code_issue(beneficiary=notification.application.applicant)
            for notification in notifications
            if notification.outcome in ACCESS_CODE_OUTCOMES
        }
        content = outcome_letters_pdf(notifications, access_codes=codes)
        notifications_mark_printed(notifications=notifications)
    return content


def notifications_mark_printed(*, notifications: list[Notification]) -> int:
    """Record that the letters were printed."""
    return Notification.objects.filter(
        pk__in=[n.pk for n in notifications], status=Notification.Status.TO_PRINT
    ).update(status=Notification.Status.PRINTED, sent_at=timezone.now())
