from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Bandi e buoni")

    def ready(self) -> None:
        # Registers what a paid beneficiary transfer does to its reimbursement claim or cash grant.
        # Registers the tasks in every process, not only in a worker (Celery's autodiscovery):
        # the services enqueue them by name (vouchers.task_queue).
        from vouchers import tasks  # noqa: F401
        from vouchers.services import cash_grants, reimbursements  # noqa: F401
