"""A call's rules in the admin once it is published: shown, not edited; corrected by amendment.

On a published call the fields that decide eligibility, ranking and amounts
(``Initiative.RULE_FIELDS`` and its municipalities and categories) are read-only; a form
posted with them anyway is refused with a message, and the model's own validation refuses
them too. «Rettifica del bando» changes them through ``initiative_amend``, with a reason;
the «Rettifiche» tab lists every change, which also shows in the call's history. Title,
description, planned budget, retention, outcome texts and new documents stay editable; the
documents already published stay as they are. An archived call is read-only for everyone,
superusers included.
"""

from datetime import date
from decimal import Decimal
from functools import partial

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextareaWidget

from core.admin.toolkit import action_form_page, change_url, euro, is_confirmed
from core.models import Organization
from vouchers.admin.scoping import request_scope
from vouchers.models import Initiative
from vouchers.services.amendments import (
    AMENDABLE_AFTER_RANKING,
    AMENDABLE_FIELDS,
    RANKED,
    AmendmentError,
    initiative_amend,
    rule_label,
)

FROZEN_NAMES = ("status", *Initiative.RULE_FIELDS, *Initiative.RULE_M2M_FIELDS)
AMENDABLE_STATUSES = {
    Initiative.Status.PUBLISHED,
    Initiative.Status.CLOSED,
    Initiative.Status.RANKED,
    Initiative.Status.ISSUED,
}


def municipality_choices(request, initiative: Initiative | None):
    """The municipalities a user may put in a call: his own, and those already in it (a
    joint call edited by one municipality keeps the others)."""
    scope = request_scope(request)
    if scope.everything:
        return None
    current = initiative.municipalities.values("pk") if initiative is not None else []
    return Organization.objects.filter(
        Q(kind=Organization.Kind.MUNICIPALITY),
        Q(pk__in=scope.municipality_ids) | Q(pk__in=current),
    )


def _status_of(obj) -> str | None:
    """The stored status of the call an admin check is about (an object or its id)."""
    if obj is None:
        return None
    if isinstance(obj, Initiative):
        pk = obj.pk
    else:
        pk = unquote(str(obj))
    return Initiative.objects.filter(pk=pk).values_list("status", flat=True).first()


def _posted_names(data, names) -> list[str]:
    """Which of these fields a posted form carries (a date and time comes as two boxes)."""
    sent = []
    for name in names:
        if any(
            key == name or (key.startswith(f"{name}_") and key[len(name) + 1 :].isdigit())
            for key in data
        ):
            sent.append(name)
    return sent


class InitiativeInlineMixin:
    """An inline of the call's page: read-only once the call is archived."""

    def _initiative_archived(self, obj) -> bool:
        return isinstance(obj, Initiative) and _status_of(obj) == Initiative.Status.ARCHIVED

    def has_add_permission(self, request, obj=None):
        return not self._initiative_archived(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._initiative_archived(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._initiative_archived(obj) and super().has_delete_permission(request, obj)


class PublishedDocumentsInlineMixin(InitiativeInlineMixin):
    """The documents of a published call: new ones may be added (an FAQ, the notice of an
    amendment); those people applied under stay as they were published."""

    def _initiative_published(self, obj) -> bool:
        return isinstance(obj, Initiative) and _status_of(obj) not in (
            None,
            Initiative.Status.DRAFT,
        )

    def has_change_permission(self, request, obj=None):
        return not self._initiative_published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._initiative_published(obj) and super().has_delete_permission(request, obj)


class InitiativeForm(forms.ModelForm):
    """The call's form: on a published call its rules are not in it, and may not be sent."""

    def clean(self):
        data = super().clean()
        if self.instance.pk is not None and self.instance.rules_frozen:
            sent = _posted_names(self.data, FROZEN_NAMES)
            if sent:
                raise ValidationError(
                    _(
                        "Il bando è pubblicato: %(fields)s non si cambiano da qui. Usa "
                        "«Rettifica del bando», che ne registra il motivo."
                    )
                    % {"fields": ", ".join(f"«{rule_label(name)}»" for name in sent)},
                    code="rules_frozen",
                )
        return data


class AmendmentForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Motivo della rettifica"),
        max_length=2000,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text=_("Ad esempio l'atto che la dispone. Resta nello storico del bando."),
        error_messages={"required": _("Indica il motivo della rettifica: resta nello storico.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, value in list(self.initial.items()):
            # The boxes show minutes: an untouched date and time is not a change.
            if hasattr(value, "second") and hasattr(value, "date"):
                self.initial[name] = value.replace(second=0, microsecond=0)

    def _post_clean(self):
        """Nothing is written to the call here: ``initiative_amend`` checks the rules."""

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name != "reason"}


def amendable_now(initiative: Initiative) -> list[str]:
    if initiative.status in RANKED:
        return list(AMENDABLE_AFTER_RANKING)
    return list(AMENDABLE_FIELDS)


def _shown(name: str, value) -> str:
    """A value kept by an amendment row, as staff read it."""
    if value in (None, "", []):
        return "—"
    field = Initiative._meta.get_field(name)
    if field.many_to_many:
        return ", ".join(str(row) for row in field.related_model.objects.filter(pk__in=value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return str(_("sì") if value else _("no"))
    if isinstance(field, models.DecimalField):
        return euro(Decimal(value))
    if isinstance(field, models.DateTimeField):
        moment = parse_datetime(value)
        return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M") if moment else str(value)
    if isinstance(field, models.DateField):
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    return str(value)


class InitiativeAmendmentsMixin:
    """The freeze of a published call's rules and its amendments; mixed into the call's
    admin before the phases."""

    form = InitiativeForm

    # Permissions.

    def has_change_permission(self, request, obj=None):
        if isinstance(obj, Initiative) and _status_of(obj) == Initiative.Status.ARCHIVED:
            return False
        return super().has_change_permission(request, obj)

    def has_budget_permission(self, request, obj=None):
        if _status_of(obj) == Initiative.Status.ARCHIVED:
            return False
        return super().has_budget_permission(request, obj)

    def has_amend_permission(self, request, obj=None):
        if not request.user.has_perm("vouchers.change_initiative"):
            return False
        return obj is None or _status_of(obj) in AMENDABLE_STATUSES

    # The call's page.

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.pk is not None and obj.rules_frozen:
            readonly += [name for name in FROZEN_NAMES if name not in readonly]
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get("municipalities")
        choices = municipality_choices(request, obj)
        if field is not None and choices is not None:
            field.queryset = choices
        return form

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if (
            object_id
            and request.method == "POST"
            and _status_of(object_id) == Initiative.Status.ARCHIVED
            and self.get_queryset(request).filter(pk=unquote(object_id)).exists()
        ):
            self.message_user(
                request,
                _("Il bando è archiviato: non si modifica più."),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            # simple-history would put back a version for anyone who may look at it.
            if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
                raise Http404
            if not super().has_change_permission(request):
                raise PermissionDenied
        # Putting back an old version would rewrite rules, or the status, of a published call.
        if request.method == "POST" and _status_of(object_id) not in (
            None,
            Initiative.Status.DRAFT,
        ):
            self.message_user(
                request,
                _(
                    "Un bando pubblicato non torna a una versione precedente: le sue regole "
                    "si correggono con «Rettifica del bando»."
                ),
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        if obj is not None and _status_of(obj) != Initiative.Status.DRAFT:
            return True
        return super().revert_disabled(request, obj)

    def get_actions_detail(self, request, object_id):
        actions = super().get_actions_detail(request, object_id)
        if not object_id:
            return actions
        status = _status_of(object_id)
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}_amend_detail"
        return [a for a in actions if a.action_name != name or status in AMENDABLE_STATUSES]

    @display(description=_("rettifiche"))
    def amendments_detail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        rows = [
            [
                timezone.localtime(row.amended_at).strftime("%d/%m/%Y %H:%M"),
                row.amended_by or "—",
                row.field_label,
                _shown(row.field, row.old_value),
                _shown(row.field, row.new_value),
                row.reason,
            ]
            for row in obj.amendments.select_related("amended_by").order_by("-amended_at", "-pk")
        ]
        if not rows:
            if obj.rules_frozen:
                return _("Nessuna rettifica: le regole sono quelle pubblicate.")
            return _("Il bando è in bozza: le regole si modificano dal modulo.")
        return render_to_string(
            "unfold/components/table.html",
            {
                "table": {
                    "headers": [
                        _("Il"),
                        _("Da"),
                        _("Regola"),
                        _("Prima"),
                        _("Dopo"),
                        _("Motivo"),
                    ],
                    "rows": rows,
                }
            },
        )

    @action(
        description=_("Rettifica del bando"),
        url_path="rettifica",
        icon="edit_note",
        permissions=["amend"],
    )
    def amend_detail(self, request, object_id):
        initiative = self._initiative(request, object_id)
        form_class = forms.modelform_factory(
            Initiative,
            form=AmendmentForm,
            fields=amendable_now(initiative),
            formfield_callback=partial(self.formfield_for_dbfield, request=request),
        )
        form = form_class(request.POST if is_confirmed(request) else None, instance=initiative)
        choices = municipality_choices(request, initiative)
        if "municipalities" in form.fields and choices is not None:
            form.fields["municipalities"].queryset = choices
        if form.is_valid():
            changes = form.changes()
            try:
                if not changes:
                    raise AmendmentError("nothing_changed")
                rows = initiative_amend(
                    initiative=initiative,
                    actor=request.user,
                    changes=changes,
                    reason=form.cleaned_data["reason"],
                )
            except AmendmentError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request,
                    _("Rettifica registrata: %(fields)s.")
                    % {"fields": ", ".join(row.field_label for row in rows)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url(initiative))
        if initiative.status in RANKED:
            description = _(
                "La graduatoria è approvata: requisiti, criteri e importi sono già stati "
                "applicati. Si possono ancora correggere la validità e le categorie di spesa; "
                "a buoni emessi la validità si proroga anche per loro."
            )
        else:
            description = _(
                "Le regole di un bando pubblicato si cambiano solo così: ogni modifica resta "
                "nelle rettifiche e nello storico del bando, con chi l'ha fatta e perché."
            )
        return action_form_page(
            request,
            self,
            title=_("Rettifica del bando"),
            description=description,
            form=form,
            summary=[
                (_("Bando"), initiative.title),
                (_("Stato attuale"), initiative.get_status_display()),
            ],
            submit_label=_("Registra la rettifica"),
            obj=initiative,
        )
