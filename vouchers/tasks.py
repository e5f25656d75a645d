"""Background tasks of calls: thin wrappers that call one service."""

from celery import shared_task

from vouchers.models import IssuanceRun


@shared_task(acks_late=True)
def issuance_run_execute(run_id: int) -> int:
    from vouchers.programme import issuance_run_execute as execute

    return execute(run=IssuanceRun(pk=run_id)).vouchers_issued


@shared_task(acks_late=True)
def notifications_send(initiative_id: int) -> int:
    from vouchers.notifications import pending_notifications_send

    return pending_notifications_send(initiative_id=initiative_id)


@shared_task
def vouchers_expire_due() -> int:
    from vouchers.services import vouchers_expire_due as expire

    return expire()
