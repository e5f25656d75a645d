"""Vouchers in the admin: ledger-backed, never edited or deleted by hand.

Printing, revoking and expiring go through ``vouchers.services``; the shop side of a voucher
(its redemptions) is added by ``merchants.admin``.
"""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.enums import ActionVariant

from core.admin.toolkit import (
    ConfirmForm,
    DayRangeFilter,
    LedgerReadOnlyMixin,
    ReasonForm,
    action_form_page,
    bound_if_confirmed,
    change_url,
    changelist_url,
    euro,
    is_confirmed,
    status_badge,
)
from core.errors import DomainError
from core.models import Posting
from core.money import ZERO
from core.paginator import CappedCountPaginator
from vouchers.admin.exports import ExportAdminMixin, VoucherResource
from vouchers.admin.issuing import MAX_PRINTED_VOUCHERS
from vouchers.admin.phases import MAX_BULK_SELECTION, pdf_response
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    request_scope,
    visible_vouchers,
)
from vouchers.admin.waiting_list import suggest_waiting_list
from vouchers.models import Voucher
from vouchers.printing import printable_vouchers, vouchers_pdf
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.expiry import voucher_revoke, vouchers_expire_due

VOUCHER_STATUS_VARIANTS = {
    Voucher.Status.ACTIVE: "success",
    Voucher.Status.EXHAUSTED: "info",
    Voucher.Status.EXPIRED: "warning",
    Voucher.Status.REVOKED: "danger",
}


def voucher_link(voucher: Voucher) -> str:
    """A link to a voucher that shows only the end of its code."""
    return format_html(
        '<a href="{}" class="text-link">{}</a>', change_url(voucher), voucher.code_hint
    )


def voucher_table(vouchers) -> str:
    return render_to_string(
        "unfold/components/table.html",
        {
            "table": {
                "headers": [_("Codice"), _("Bando"), _("Saldo"), _("Stato"), _("Valido fino al")],
                "rows": [
                    [
                        voucher_link(voucher),
                        voucher.initiative,
                        euro(voucher.balance),
                        status_badge(
                            voucher.get_status_display(), VOUCHER_STATUS_VARIANTS[voucher.status]
                        ),
                        voucher.valid_until.strftime("%d/%m/%Y"),
                    ]
                    for voucher in vouchers
                ],
            }
        },
    )


# Registered once, by the composition root (config/admin.py), with what the apps above add.
class VoucherAdmin(ScopedAdminMixin, LedgerReadOnlyMixin, ModelAdmin, ExportAdminMixin):
    list_display = [
        "code_hint_display",
        "beneficiary",
        "initiative",
        "balance_display",
        "face_value_display",
        "status_display",
        "valid_until",
    ]
    list_fullwidth = True
    list_filter = [
        ("status", ChoicesDropdownFilter),
        ("initiative", ScopedRelatedDropdownFilter),
        ("beneficiary__municipality", ScopedRelatedDropdownFilter),
        "medium",
        ("valid_until", DayRangeFilter),
    ]
    list_filter_submit = True
    search_fields = [
        "beneficiary__last_name",
        "beneficiary__first_name",
        "=beneficiary__fiscal_code",
    ]
    search_help_text = _(
        "Cognome, nome o codice fiscale dell'intestatario, oppure le ultime 4 o 5 "
        "lettere del codice del buono."
    )
    list_select_related = ["beneficiary", "initiative"]
    fieldsets = [
        (
            _("Buono"),
            {
                "fields": [
                    "grouped_code_display",
                    "qr_display",
                    "status_detail",
                    "balance_detail",
                    "face_value_display",
                    "partial_allowed",
                    "medium",
                ]
            },
        ),
        (_("Intestatario e bando"), {"fields": ["beneficiary", "initiative", "application"]}),
        (
            _("Validità"),
            {"fields": ["valid_from", "valid_until", "issued_at", "closed_at", "closed_reason"]},
        ),
        (_("Contabilità"), {"fields": ["postings_detail"]}),
    ]
    readonly_fields = [
        "grouped_code_display",
        "qr_display",
        "status_detail",
        "balance_detail",
        "face_value_display",
        "postings_detail",
    ]
    show_full_result_count = False
    paginator = CappedCountPaginator
    resource_classes = [VoucherResource]
    actions = ["print_vouchers", "revoke_vouchers"]
    actions_detail = ["revoke_detail"]
    actions_list = ["expire_due"]

    def scoped_queryset(self, request):
        return visible_vouchers(request)

    def has_revoke_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_voucher")

    def has_expire_permission(self, request, obj=None):
        # Expiring works on every municipality's vouchers at once (as the nightly task does):
        # only for those who see them all.
        return (
            request.user.has_perm("vouchers.change_voucher") and request_scope(request).everything
        )

    def has_print_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_voucher")

    @action(description=_("Stampa buoni selezionati"), permissions=["print"])
    def print_vouchers(self, request, queryset):
        active = queryset.filter(status=Voucher.Status.ACTIVE)
        count = active.count()
        if not count:
            self.message_user(
                request,
                _("Tra i buoni scelti non ce n'è nessuno attivo da stampare."),
                messages.INFO,
            )
            return None
        if count > MAX_PRINTED_VOUCHERS:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d buoni da stampare.")
                % {"max": MAX_PRINTED_VOUCHERS},
                messages.ERROR,
            )
            return None
        return pdf_response(vouchers_pdf(printable_vouchers(active)), "buoni.pdf")

    def get_search_results(self, request, queryset, search_term):
        """Also find a voucher by the last characters of its code, as lists show them.

        The whole code is a bearer secret and must not travel in URLs, so only its end
        (four or five characters) is searched.
        """
        filtered = queryset  # the list's filters are already applied
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lstrip("…").upper()
        if 4 <= len(term) <= 5 and term.isalnum():
            queryset |= filtered.filter(code__endswith=term)
        return queryset, may_have_duplicates

    # Lists.

    @display(description=_("codice"))
    def code_hint_display(self, obj):
        return obj.code_hint

    @display(description=_("saldo"), ordering="balance")
    def balance_display(self, obj):
        return euro(obj.balance)

    @display(description=_("valore"), ordering="face_value")
    def face_value_display(self, obj):
        return euro(obj.face_value)

    @display(description=_("stato"), label=VOUCHER_STATUS_VARIANTS, ordering="status")
    def status_display(self, obj):
        return obj.status, obj.get_status_display()

    # Detail.

    @display(description=_("codice"))
    def grouped_code_display(self, obj):
        return format_html(
            '<span class="text-important text-lg" style="font-family: ui-monospace, '
            'SFMono-Regular, Menlo, monospace; letter-spacing: .08em">{}</span>',
            obj.grouped_code,
        )

    @display(description=_("QR"))
    def qr_display(self, obj):
        svg = reverse("vouchers:voucher-qr", kwargs={"voucher_id": obj.pk, "image_format": "svg"})
        png = reverse("vouchers:voucher-qr", kwargs={"voucher_id": obj.pk, "image_format": "png"})
        return format_html(
            '<img src="{}" alt="{}" width="180" height="180" class="bg-white p-2 rounded-default">'
            '<a href="{}" class="text-link text-xs" download>{}</a>',
            svg,
            _("QR del buono"),
            png,
            _("Scarica il QR (PNG)"),
        )

    @display(description=_("stato"))
    def status_detail(self, obj):
        badge = status_badge(obj.get_status_display(), VOUCHER_STATUS_VARIANTS[obj.status])
        if obj.closed_reason:
            return format_html("{} {}", badge, obj.closed_reason)
        return badge

    @display(description=_("saldo"))
    def balance_detail(self, obj):
        ledger = voucher_ledger_balance(voucher_id=obj.pk)
        if ledger == obj.balance:
            return format_html(
                '<span class="font-semibold text-important">{}</span> '
                '<span class="text-subtle text-xs">{}</span>',
                euro(obj.balance),
                _("(uguale al saldo in contabilità)"),
            )
        return format_html(
            '<span class="font-semibold text-important">{}</span> {}',
            euro(obj.balance),
            status_badge(
                _("in contabilità: %(ledger)s") % {"ledger": euro(ledger)},
                "danger",
            ),
        )

    @display(description=_("movimenti del buono"))
    def postings_detail(self, obj):
        postings = (
            Posting.objects.filter(
                account__key=f"initiative:{obj.initiative_id}:outstanding", voucher_ref=obj.pk
            )
            .select_related("journal")
            .order_by("journal_id", "id")[:100]
        )
        rows = []
        for posting in postings:
            journal_url = reverse("admin:core_journal_change", args=[posting.journal_id])
            rows.append(
                [
                    format_html(
                        '<a href="{}" class="text-link">#{}</a>', journal_url, posting.journal_id
                    ),
                    timezone.localtime(posting.journal.created_at).strftime("%d/%m/%Y %H:%M"),
                    posting.journal.get_kind_display(),
                    posting.journal.memo,
                    euro(posting.amount),
                ]
            )
        return render_to_string(
            "unfold/components/table.html",
            {
                "table": {
                    "headers": [
                        _("Registrazione"),
                        _("Data"),
                        _("Tipo"),
                        _("Descrizione"),
                        _("Importo sul buono"),
                    ],
                    "rows": rows,
                }
            },
        )

    # Actions.

    def _revoke(self, request, vouchers, reason: str) -> None:
        revoked = 0
        for voucher in vouchers:
            try:
                voucher_revoke(voucher=voucher, reason=reason, revoked_by=request.user)
            except DomainError as exc:
                self.message_user(request, f"{voucher.code_hint}: {exc.detail}", messages.ERROR)
            else:
                revoked += 1
        if revoked:
            self.message_user(
                request,
                ngettext("%(count)d buono revocato.", "%(count)d buoni revocati.", revoked)
                % {"count": revoked},
                messages.SUCCESS,
            )
            suggest_waiting_list(self, request, [voucher.initiative_id for voucher in vouchers])

    def _vouchers_table(self, vouchers) -> dict:
        return {
            "headers": [_("Codice"), _("Intestatario"), _("Bando"), _("Saldo"), _("Stato")],
            "rows": [
                [
                    voucher.code_hint,
                    voucher.beneficiary,
                    voucher.initiative,
                    euro(voucher.balance),
                    status_badge(
                        voucher.get_status_display(), VOUCHER_STATUS_VARIANTS[voucher.status]
                    ),
                ]
                for voucher in vouchers
            ],
        }

    @action(description=_("Revoca i buoni selezionati"), permissions=["revoke"])
    def revoke_vouchers(self, request, queryset):
        vouchers = list(
            queryset.select_related("beneficiary", "initiative").order_by("pk")[
                : MAX_BULK_SELECTION + 1
            ]
        )
        if len(vouchers) > MAX_BULK_SELECTION:
            self.message_user(
                request,
                _("Seleziona al massimo %(max)d buoni alla volta.") % {"max": MAX_BULK_SELECTION},
                messages.ERROR,
            )
            return None
        form = bound_if_confirmed(ReasonForm, request)
        if form.is_valid():
            self._revoke(request, vouchers, form.cleaned_data["reason"])
            return None
        return action_form_page(
            request,
            self,
            title=_("Revoca dei buoni"),
            description=_(
                "Il buono revocato non si può più spendere; il saldo residuo torna al budget "
                "del bando."
            ),
            form=form,
            table=self._vouchers_table(vouchers),
            submit_label=_("Revoca"),
            bulk_action="revoke_vouchers",
            selected=[voucher.pk for voucher in vouchers],
            danger=True,
        )

    @action(
        description=_("Revoca"),
        url_path="revoca",
        icon="block",
        variant=ActionVariant.DANGER,
        permissions=["revoke"],
    )
    def revoke_detail(self, request, object_id):
        voucher = self.get_object(request, unquote(object_id))
        if voucher is None:
            raise Http404
        form = bound_if_confirmed(ReasonForm, request)
        if form.is_valid():
            try:
                voucher_revoke(
                    voucher=voucher, reason=form.cleaned_data["reason"], revoked_by=request.user
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(request, _("Buono revocato."), messages.SUCCESS)
                suggest_waiting_list(self, request, [voucher.initiative_id])
                return HttpResponseRedirect(change_url(voucher))
        return action_form_page(
            request,
            self,
            title=_("Revoca del buono"),
            description=_(
                "Il buono revocato non si può più spendere; il saldo residuo torna al budget "
                "del bando."
            ),
            form=form,
            table=self._vouchers_table([voucher]),
            submit_label=_("Revoca"),
            obj=voucher,
            danger=True,
        )

    @action(
        description=_("Fai scadere i buoni scaduti"),
        url_path="scadenze",
        icon="event_busy",
        permissions=["expire"],
    )
    def expire_due(self, request):
        if is_confirmed(request):
            count = vouchers_expire_due()
            self.message_user(
                request,
                ngettext(
                    "%(count)d buono scaduto: il saldo residuo è tornato al bando.",
                    "%(count)d buoni scaduti: il saldo residuo è tornato ai bandi.",
                    count,
                )
                % {"count": count},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(changelist_url(Voucher))
        due = Voucher.objects.filter(
            valid_until__lt=timezone.localdate(), status=Voucher.Status.ACTIVE
        ).aggregate(
            count=Count("pk"),
            residual=Coalesce(
                Sum("balance"),
                Value(ZERO),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
        )
        return action_form_page(
            request,
            self,
            title=_("Fai scadere i buoni scaduti"),
            description=_(
                "I buoni attivi con validità finita prima di oggi diventano scaduti; il loro "
                "saldo residuo torna al budget del bando."
            ),
            form=ConfirmForm(),
            cancel_url=changelist_url(Voucher),
            summary=[
                (_("Buoni da far scadere"), due["count"]),
                (_("Saldo residuo"), euro(due["residual"])),
            ],
            submit_label=_("Fai scadere"),
        )
