from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VouchersConfig(AppConfig):
    name = "vouchers"
    verbose_name = _("Bandi e buoni")

    def ready(self) -> None:
        # Registers what a paid beneficiary transfer does to its reimbursement claim.
        from vouchers import reimbursements  # noqa: F401
