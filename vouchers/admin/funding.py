"""Funding sources of calls, and who may read which contributions.

Sources are added through ``vouchers.services.funding.initiative_funding_assign`` (never
saved by hand). The report of where each funder's money went (its page, reached from the
sources' list by the URL name ``admin:vouchers_funder_reach``) is ``reports.admin.funding``.
A funder sees only his own contributions, a fund manager those of his funds, the agency all
of them.
"""

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import ChoicesDropdownFilter
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminSelectWidget

from core.admin.toolkit import (
    EURO_AMOUNTS,
    ServiceSaveMixin,
    action_form_page,
    changelist_url,
    euro,
    is_confirmed,
)
from core.errors import DomainError
from core.models import Contribution, Membership, Role
from core.money import CENT, ZERO
from core.selectors import funds_for
from vouchers.admin.scoping import (
    ScopedAdminMixin,
    ScopedRelatedDropdownFilter,
    request_scope,
    visible_initiatives,
)
from vouchers.models import FundingAttribution, Initiative, InitiativeFunding
from vouchers.services.funding import initiative_funding_assign, initiative_set_attribution_rule

# --- who may read which contributions ----------------------------------------------------


def visible_contributions(request: HttpRequest) -> QuerySet[Contribution]:
    """The contributions whose use a staff user may read.

    The agency sees all; a fund manager those of the funds his organisations manage; a
    funder those of his own organisations; anybody else none.
    """
    scope = request_scope(request)
    if scope.everything:
        return Contribution.objects.all()
    visible = Q(pk__in=[])
    memberships = Membership.objects.filter(user_id=scope.user_id)
    if Role.FUND_MANAGER in scope.roles:
        managed = memberships.filter(role=Role.FUND_MANAGER).values("organization_id")
        visible |= Q(fund__manager__in=managed)
    if Role.FUNDER in scope.roles:
        own = memberships.filter(role=Role.FUNDER).values("organization_id")
        visible |= Q(funder__in=own)
    return Contribution.objects.filter(visible)


def sidebar_permission(request: HttpRequest) -> bool:
    """Whether the sidebar shows the funder's report: to staff with contributions to read."""
    if not request.user.is_staff:
        return False
    scope = request_scope(request)
    return scope.everything or bool({Role.FUND_MANAGER, Role.FUNDER} & set(scope.roles))


# --- funding sources ---------------------------------------------------------------------


class FundingSourceForm(forms.ModelForm):
    class Meta:
        model = InitiativeFunding
        fields = ["initiative", "contribution", "amount", "priority"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "priority" in self.fields:  # the add form; a recorded source is read-only
            self.fields["priority"].required = False
            self.fields["priority"].help_text = _(
                "Con la regola di priorità, la fonte 1 si consuma per prima. Vuoto: dopo le altre."
            )
        if "contribution" in self.fields:
            self.fields["contribution"].help_text = _(
                "Vuoto: il budget viene dal fondo del bando nel suo insieme."
            )


class AttributionRuleForm(forms.Form):
    initiative = forms.ModelChoiceField(
        label=gettext_lazy("Bando"),
        queryset=Initiative.objects.none(),
        widget=UnfoldAdminSelectWidget,
    )
    rule = forms.ChoiceField(
        label=gettext_lazy("Regola di attribuzione"),
        choices=Initiative.AttributionRule.choices,
        widget=UnfoldAdminSelectWidget,
    )


# Registered once, by the composition root (config/admin.py), with what the apps above add.
class InitiativeFundingAdmin(ServiceSaveMixin, ScopedAdminMixin, ModelAdmin):
    """A call's sources: each a tranche of its budget, from a contribution or a fund."""

    form = FundingSourceForm
    formfield_overrides = EURO_AMOUNTS
    list_display = [
        "initiative",
        "priority",
        "origin_display",
        "funder_kind_display",
        "amount_display",
        "attributed_display",
        "assigned_at",
    ]
    list_filter = [
        ("initiative", ScopedRelatedDropdownFilter),
        ("contribution__funder__funder_kind", ChoicesDropdownFilter),
    ]
    list_select_related = ["initiative", "fund", "contribution__funder"]
    search_fields = ["initiative__title", "contribution__funder__name", "fund__name"]
    add_fields = ["initiative", "contribution", "amount", "priority"]
    detail_fields = [
        "initiative",
        "fund",
        "contribution",
        "amount",
        "priority",
        "attribution_rule_display",
        "attributed_display",
        "journal",
        "assigned_at",
        "assigned_by",
    ]
    actions_list = ["attribution_rule_set", "funder_report_link"]
    show_full_result_count = False

    def scoped_queryset(self, request):
        return InitiativeFunding.objects.filter(initiative__in=visible_initiatives(request))

    def get_queryset(self, request):
        attributed = (
            FundingAttribution.objects.filter(source=OuterRef("pk"))
            .order_by()
            .values("source")
            .annotate(total=Sum("amount"))
            .values("total")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                attributed=Subquery(
                    attributed, output_field=DecimalField(max_digits=14, decimal_places=2)
                )
            )
        )

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.detail_fields

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative") and request.user.has_perm(
            "core.view_fund"
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.view_initiative")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "contribution":
            kwargs["queryset"] = Contribution.objects.filter(
                fund__in=funds_for(user=request.user)
            ).select_related("funder", "fund")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_through_service(self, request, data):
        return initiative_funding_assign(
            initiative=data["initiative"],
            contribution=data.get("contribution"),
            amount=data["amount"],
            priority=data.get("priority"),
            assigned_by=request.user,
        )

    @display(description=_("provenienza"))
    def origin_display(self, obj):
        if obj.contribution_id is None:
            return _("Fondo %(fund)s") % {"fund": obj.fund.name}
        return f"{obj.contribution.funder.name} · {obj.contribution.document_reference or '—'}"

    @display(description=_("tipo di finanziatore"))
    def funder_kind_display(self, obj):
        if obj.contribution_id is None:
            return "—"
        funder = obj.contribution.funder
        return funder.get_funder_kind_display() or funder.get_kind_display()

    @display(description=_("importo"), ordering="amount")
    def amount_display(self, obj):
        return euro(obj.amount)

    @display(description=_("speso e attribuito"))
    def attributed_display(self, obj):
        # SQLite sums decimals as floats: round the annotation to the cent.
        total = getattr(obj, "attributed", None)
        return euro(Decimal(str(total)).quantize(CENT) if total is not None else ZERO)

    @display(description=_("regola di attribuzione"))
    def attribution_rule_display(self, obj):
        return obj.initiative.get_attribution_rule_display()

    def has_attribution_rule_set_permission(self, request, obj=None):
        return request.user.has_perm("vouchers.change_initiative")

    @action(
        description=_("Regola di attribuzione"),
        url_path="regola-attribuzione",
        icon="rule",
        permissions=["attribution_rule_set"],
    )
    def attribution_rule_set(self, request):
        form = AttributionRuleForm(request.POST if is_confirmed(request) else None)
        form.fields["initiative"].queryset = visible_initiatives(request)
        if form.is_valid():
            initiative = form.cleaned_data["initiative"]
            try:
                initiative_set_attribution_rule(
                    initiative=initiative, rule=form.cleaned_data["rule"]
                )
            except DomainError as exc:
                form.add_error("rule", exc.detail)
            else:
                initiative.refresh_from_db()
                self.message_user(
                    request,
                    _("%(initiative)s: %(rule)s.")
                    % {
                        "initiative": initiative,
                        "rule": initiative.get_attribution_rule_display(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(changelist_url(InitiativeFunding))
        return action_form_page(
            request,
            self,
            title=_("Regola di attribuzione alle fonti"),
            description=_(
                "In proporzione: ogni euro speso si divide tra le fonti secondo gli importi "
                "assegnati. In ordine di priorità: si consuma prima la fonte 1, poi la 2… La "
                "regola si sceglie prima che la spesa del bando sia attribuita."
            ),
            form=form,
            submit_label=_("Salva"),
            cancel_url=changelist_url(InitiativeFunding),
        )

    def has_funder_report_link_permission(self, request, obj=None):
        return sidebar_permission(request)

    @action(
        description=_("Rapporto per finanziatore"),
        url_path="vai-al-rapporto",
        icon="monitoring",
        permissions=["funder_report_link"],
    )
    def funder_report_link(self, request):
        return HttpResponseRedirect(reverse("admin:vouchers_funder_reach"))
