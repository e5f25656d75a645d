"""Beneficiaries in the admin: the citizens' files, their applications, vouchers and access code.

A beneficiary's access code is issued by ``vouchers.access``; nothing else is edited here
beyond the contacts the desk corrects.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from core.admin.toolkit import ConfirmForm, action_form_page, change_url, is_confirmed
from vouchers.admin.exports import BeneficiaryResource, ExportAdminMixin
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    page_request,
    visible_applications,
    visible_beneficiaries,
)
from vouchers.admin.vouchers import voucher_table
from vouchers.models import Beneficiary, Voucher
from vouchers.services.access import access_code_issue


@admin.register(Beneficiary)
class BeneficiaryAdmin(ScopedAdminMixin, SimpleHistoryAdmin, ModelAdmin, ExportAdminMixin):
    list_display = [
        "last_name",
        "first_name",
        "fiscal_code",
        "municipality",
        "vouchers_count",
        "has_app",
    ]
    list_filter = [("municipality", ScopedRelatedDropdownFilter)]
    search_fields = ["last_name", "first_name", "=fiscal_code", "email"]
    list_select_related = ["municipality"]
    autocomplete_fields = ["user"]
    fieldsets = [
        (None, {"fields": [("first_name", "last_name"), "fiscal_code", "municipality"]}),
        (_("Contatti"), {"fields": ["email", "phone", "user", "access_code_detail"]}),
        (_("Domande"), {"fields": ["applications_detail"]}),
        (_("Buoni"), {"fields": ["vouchers_detail"]}),
    ]
    readonly_fields = ["access_code_detail", "applications_detail", "vouchers_detail"]
    show_full_result_count = False
    resource_classes = [BeneficiaryResource]
    actions_detail = ["access_code_issue_detail"]

    def scoped_queryset(self, request):
        return visible_beneficiaries(request)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.has_perm("auth.view_user"):
            # Linking an app account means choosing among every user: not the desk's job.
            readonly.append("user")
        return readonly

    def has_access_code_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_beneficiary")

    def get_queryset(self, request):
        count = Subquery(
            Voucher.objects.filter(beneficiary=OuterRef("pk"))
            .order_by()
            .values("beneficiary")
            .annotate(count=Count("pk"))
            .values("count")[:1],
            output_field=IntegerField(),
        )
        return super().get_queryset(request).annotate(held_vouchers=Coalesce(count, Value(0)))

    @display(description=_("buoni"), ordering="held_vouchers")
    def vouchers_count(self, obj):
        return obj.held_vouchers

    @display(description=_("usa l'app"), boolean=True)
    def has_app(self, obj):
        return obj.user_id is not None

    @display(description=_("codice di accesso"))
    def access_code_detail(self, obj):
        if obj.pk is None or not obj.access_code_hash:
            return _("Nessun codice stampato: si genera col pulsante «Genera codice di accesso».")
        return _("Codice stampato consegnato (se è stato perso, generane uno nuovo).")

    @display(description=_("domande"))
    def applications_detail(self, obj):
        if obj.pk is None:
            return "—"
        request = page_request()
        applications = obj.applications.select_related("initiative").order_by("-submitted_at")
        if request is not None:
            applications = applications.filter(pk__in=visible_applications(request).values("pk"))
        rows = [
            [
                format_html(
                    '<a href="{}" class="text-link">{}</a>',
                    change_url(application),
                    application.protocol_number,
                ),
                application.initiative,
                application.get_status_display(),
                application.outcome_label,
            ]
            for application in applications[:50]
        ]
        return render_to_string(
            "unfold/components/table.html",
            {
                "table": {
                    "headers": [_("Protocollo"), _("Bando"), _("Stato"), _("Esito")],
                    "rows": rows,
                }
            },
        )

    @action(
        description=_("Genera codice di accesso"),
        url_path="codice-accesso",
        icon="password",
        permissions=["access_code"],
    )
    def access_code_issue_detail(self, request, object_id):
        beneficiary = self.get_object(request, unquote(object_id))
        if beneficiary is None:
            raise Http404
        if not is_confirmed(request):
            return action_form_page(
                request,
                self,
                title=_("Nuovo codice di accesso"),
                description=_(
                    "Il codice permette a chi non ha l'e-mail di entrare nell'app con il "
                    "codice fiscale. Sarà mostrato una sola volta, da stampare e consegnare; "
                    "il codice precedente smette di funzionare."
                ),
                form=ConfirmForm(),
                summary=[
                    (_("Beneficiario"), beneficiary.full_name),
                    (_("Codice fiscale"), beneficiary.fiscal_code),
                    (_("Comune"), beneficiary.municipality),
                ],
                submit_label=_("Genera il codice"),
                obj=beneficiary,
            )
        raw_code = access_code_issue(beneficiary=beneficiary)
        response = TemplateResponse(
            request,
            "admin/buonocomune/access_code_created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": beneficiary,
                "title": _("Codice di accesso"),
                "beneficiary": beneficiary,
                "access_code": raw_code,
                "back_url": change_url(beneficiary),
            },
        )
        # The code is in this answer only: no browser or proxy may keep a copy.
        response["Cache-Control"] = "no-store"
        return response

    @display(description=_("buoni"))
    def vouchers_detail(self, obj):
        # A table rather than an inline: an inline titles each row with the voucher's
        # whole code, which lists must not show.
        if obj.pk is None:
            return "—"
        vouchers = obj.vouchers.select_related("initiative").order_by("-issued_at", "-pk")[:50]
        return voucher_table(vouchers)


# --- vouchers ----------------------------------------------------------------------------
