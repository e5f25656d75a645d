"""Background tasks of calls: thin wrappers that call one service.

The services never import this module: they enqueue a task by its registered name
(``vouchers.task_queue``). The services are reached through their modules at call time, so a
test may stand in for one.
"""

from datetime import date

from celery import shared_task
from django.utils import translation

from vouchers.models import IssuanceRun
from vouchers.services import access, expiry, issuance, issuing, notifications, retention


@shared_task(acks_late=True)
def issuance_run_execute(run_id: int) -> int:
    return issuing.issuance_run_execute(run=IssuanceRun(pk=run_id)).vouchers_issued


@shared_task
def issuance_runs_recover() -> int:
    """Hand again to the queue the issuing runs it never took or no worker started."""
    return issuance.issuance_runs_recover()


@shared_task(acks_late=True)
def notifications_send(initiative_id: int) -> int:
    return notifications.pending_notifications_send(initiative_id=initiative_id)


@shared_task
def sms_receipts_check() -> dict[str, int]:
    """Read the SMS providers' delivery receipts; an SMS not delivered becomes a letter."""
    return notifications.sms_receipts_check()


@shared_task
def expire_due_vouchers(day: str | None = None) -> int:
    """Expire the vouchers whose validity ended before today (or ``day``, AAAA-MM-GG)."""
    return expiry.vouchers_expire_due(today=date.fromisoformat(day) if day else None)


@shared_task
def expired_initiatives_anonymise(day: str | None = None) -> int:
    """Anonymise the archived calls past their retention term (on ``day``, AAAA-MM-GG)."""
    return len(
        retention.expired_initiatives_anonymise(today=date.fromisoformat(day) if day else None)
    )


@shared_task
def archive_exports_purge() -> int:
    """Delete the archive ZIPs whose days to be downloaded are over."""
    from vouchers.services.archive_exports import archive_exports_purge as purge

    return purge()


@shared_task
def login_link_send(email: str, link_template: str, language: str | None = None) -> bool:
    """E-mail a login link to whoever has this address, in the language it was asked in."""
    with translation.override(language):
        return access.login_link_send(email=email, link_template=link_template)
