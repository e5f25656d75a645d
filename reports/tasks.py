"""Background tasks of the reports: thin wrappers that call one service.

They keep the names they were registered with before they moved here, so that the schedules
and any queued message still find them.
"""

from celery import shared_task

from reports.attribution import attribution_refresh, attribution_refresh_all
from reports.dashboard import dashboard_figures_refresh
from vouchers.models import Initiative


@shared_task(name="vouchers.funding.attribute_funding")  # type: ignore[untyped-decorator]  # Celery has no types
def attribute_funding() -> int:
    """Periodic task: attribute the spending of every call to its sources."""
    return attribution_refresh_all()


@shared_task(name="vouchers.funding.attribute_initiative_funding")  # type: ignore[untyped-decorator]  # Celery has no types
def attribute_initiative_funding(initiative_id: int) -> int:
    """Attribute one call's new spending, for example after a reimbursement is approved.

    Queue it with ``transaction.on_commit`` once the approval is saved.
    """
    return attribution_refresh(initiative=Initiative(pk=initiative_id)).rows_written


@shared_task(name="merchants.tasks.refresh_dashboard_figures")  # type: ignore[untyped-decorator]  # Celery has no types
def refresh_dashboard_figures() -> int:
    """Compute the admin dashboard's figures of the agency and of each municipality."""
    return dashboard_figures_refresh()
