"""Background tasks of calls: thin wrappers that call one service."""

from datetime import date

from celery import shared_task

from vouchers.models import IssuanceRun


@shared_task(acks_late=True)
def issuance_run_execute(run_id: int) -> int:
    from vouchers.programme import issuance_run_execute as execute

    return execute(run=IssuanceRun(pk=run_id)).vouchers_issued


@shared_task
def issuance_runs_recover() -> int:
    """Hand again to the queue the issuing runs it never took or no worker started."""
    from vouchers.issuance import issuance_runs_recover as recover

    return recover()


@shared_task(acks_late=True)
def notifications_send(initiative_id: int) -> int:
    from vouchers.notifications import pending_notifications_send

    return pending_notifications_send(initiative_id=initiative_id)


@shared_task
def sms_receipts_check() -> dict[str, int]:
    """Read the SMS providers' delivery receipts; an SMS not delivered becomes a letter."""
    from vouchers.notifications import sms_receipts_check as check

    return check()


@shared_task
def expire_due_vouchers(day: str | None = None) -> int:
    """Expire the vouchers whose validity ended before today (or ``day``, AAAA-MM-GG)."""
    from vouchers.services import vouchers_expire_due as expire

    return expire(today=date.fromisoformat(day) if day else None)


@shared_task
def expired_initiatives_anonymise(day: str | None = None) -> int:
    """Anonymise the archived calls past their retention term (on ``day``, AAAA-MM-GG)."""
    from vouchers.retention import expired_initiatives_anonymise as anonymise

    return len(anonymise(today=date.fromisoformat(day) if day else None))


@shared_task
def archive_exports_purge() -> int:
    """Delete the archive ZIPs whose days to be downloaded are over."""
    from vouchers.services.archive_exports import archive_exports_purge as purge

    return purge()


@shared_task
def login_link_send(email: str, link_template: str, language: str | None = None) -> bool:
    """E-mail a login link to whoever has this address, in the language it was asked in."""
    from django.utils import translation

    from vouchers.access import login_link_send as send

    with translation.override(language):
        return send(email=email, link_template=link_template)
