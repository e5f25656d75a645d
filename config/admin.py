"""The admin pages that several apps complete, each registered once.

An app's admin never re-registers another's: the pages of a call, a voucher and a call's funding
sources are built here from what each layer adds — vouchers the phases, merchants the shops'
figures and the redemptions, reports the archive and the funder's report.
"""

from django.contrib import admin

from merchants.admin.voucher_pages import InitiativeAdmin as ShopsInitiativeAdmin
from merchants.admin.voucher_pages import VoucherAdmin
from reports.admin.archive import InitiativeArchiveMixin, with_archive_button
from reports.admin.funding import InitiativeFundingReachAdmin
from vouchers.models import Initiative, InitiativeFunding, Voucher


@admin.register(Initiative)
class InitiativeAdmin(InitiativeArchiveMixin, ShopsInitiativeAdmin):
    """A call's page: its phases, what the shops took, and its archive."""

    actions_detail = with_archive_button(ShopsInitiativeAdmin.actions_detail)


admin.site.register(Voucher, VoucherAdmin)
admin.site.register(InitiativeFunding, InitiativeFundingReachAdmin)
