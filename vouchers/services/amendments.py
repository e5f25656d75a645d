"""Amendments (rettifiche) of a published call: the one way its rules change.

Once a call is published, what decides who is eligible, who comes first and how much each
receives is frozen (``Initiative.RULE_FIELDS``, guarded by ``Initiative.clean``). A
correction is an amendment: a reason, one ``InitiativeAmendment`` row per changed rule with
its old and new value, and the call's historical record, in one transaction.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Organization
from vouchers.models import Initiative, InitiativeAmendment, SpendingCategory, Voucher

# The rules an amendment may change. The benefit kind and the fund are not among them: a
# call that pays something else, or from another fund, is another call.
AMENDABLE_FIELDS = (
    *(name for name in Initiative.RULE_FIELDS if name not in ("benefit_kind", "fund")),
    *Initiative.RULE_M2M_FIELDS,
)
# Once the ranking is approved, the rules that made it (eligibility, criteria, amounts) have
# been applied: changing them would no longer change anything but the record. When and on
# what the benefit is spent may still be corrected.
AMENDABLE_AFTER_RANKING = ("valid_from", "valid_until", "allowed_categories")
RANKED = (Initiative.Status.RANKED, Initiative.Status.ISSUED)
# simple-history keeps a change reason of at most this many characters.
HISTORY_REASON_LENGTH = 100


class AmendmentError(DomainError):
    """Why a call's rules cannot be amended."""

    messages = {
        "reason_required": _("Indica il motivo della rettifica: resta nello storico del bando."),
        "draft": _("Il bando è in bozza: le sue regole si modificano dal suo modulo."),
        "archived": _("Il bando è archiviato: non si modifica più."),
        "not_amendable": _("«%(field)s» non si rettifica: serve un nuovo bando."),
        "nothing_changed": _("La rettifica non cambia nessuna regola."),
        "ranking_approved": _(
            "La graduatoria è già approvata con queste regole: %(fields)s non si possono più "
            "rettificare."
        ),
        "vouchers_issued_start": _(
            "I buoni sono già emessi: l'inizio della validità non si cambia più."
        ),
        "vouchers_issued_shorten": _(
            "I buoni sono già emessi: la validità si può prorogare, non accorciare."
        ),
        "municipalities_missing": _("Indica almeno un comune partecipante."),
        "categories_missing": _("Indica almeno una categoria di spesa ammessa."),
        "invalid_rules": _("Regole non valide: %(errors)s"),
    }


def _rule_field(name: str) -> "models.Field[Any, Any]":
    """A call's own field: a rule is never a relation that points at the call."""
    field = Initiative._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise FieldDoesNotExist(name)
    return field


def rule_label(name: str) -> str:
    return str(capfirst(_rule_field(name).verbose_name))


def _stored(value: Any) -> Any:
    """A value as an amendment row keeps it (JSON): amounts and dates as text, ids sorted."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if timezone.is_aware(value) else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Iterable) and not isinstance(value, str):
        return sorted(_stored(item) for item in value)
    return value


def _current(initiative: Initiative, name: str) -> Any:
    field = _rule_field(name)
    if field.many_to_many:
        return list(getattr(initiative, name).values_list("pk", flat=True))
    return getattr(initiative, field.attname)


def _parsed(name: str, value: Any) -> Any:
    field = _rule_field(name)
    if field.many_to_many:
        return [item.pk if isinstance(item, models.Model) else int(item) for item in value or []]
    try:
        return field.to_python(value)
    except ValidationError as exc:
        raise AmendmentError(
            "invalid_rules", errors=f"{rule_label(name)}: {' '.join(exc.messages)}"
        ) from exc


def _check(initiative: Initiative, values: dict[str, Any]) -> None:
    """The amended rules must hold together as a call's rules do in its form."""
    if "municipalities" in values:
        ids = set(values["municipalities"])
        if not ids:
            raise AmendmentError("municipalities_missing")
        towns = Organization.objects.filter(pk__in=ids, kind=Organization.Kind.MUNICIPALITY)
        if towns.count() != len(ids):
            raise AmendmentError("municipalities_missing")
    if "allowed_categories" in values:
        ids = set(values["allowed_categories"])
        if SpendingCategory.objects.filter(pk__in=ids).count() != len(ids) or (
            not ids and initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER
        ):
            raise AmendmentError("categories_missing")
    concrete = {field.name for field in Initiative._meta.concrete_fields}
    errors = {}
    try:
        initiative.clean_fields(exclude=concrete - set(values))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    for name, error in initiative.rule_errors().items():
        errors.setdefault(name, [error])
    if errors:
        text = "; ".join(
            f"{rule_label(name)}: {' '.join(str(message) for message in messages)}"
            for name, messages in errors.items()
        )
        raise AmendmentError("invalid_rules", errors=text)


def initiative_amend(
    *, initiative: Initiative, actor: User, changes: dict[str, Any], reason: str
) -> list[InitiativeAmendment]:
    """Change frozen rules of a published call, with the reason, recording each change."""
    reason = (reason or "").strip()
    if not reason:
        raise AmendmentError("reason_required")
    for name in changes:
        if name not in AMENDABLE_FIELDS:
            label = rule_label(name) if name in Initiative.RULE_FIELDS else name
            raise AmendmentError("not_amendable", field=label)
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        if initiative.status == Initiative.Status.ARCHIVED:
            raise AmendmentError("archived")
        if initiative.status == Initiative.Status.DRAFT:
            raise AmendmentError("draft")
        values = {name: _parsed(name, value) for name, value in changes.items()}
        before = {name: _stored(_current(initiative, name)) for name in values}
        changed = [name for name in values if _stored(values[name]) != before[name]]
        if not changed:
            raise AmendmentError("nothing_changed")
        values = {name: values[name] for name in changed}
        if initiative.status in RANKED:
            spent = [name for name in changed if name not in AMENDABLE_AFTER_RANKING]
            if spent:
                raise AmendmentError(
                    "ranking_approved",
                    fields=", ".join(f"«{rule_label(name)}»" for name in spent),
                )
        vouchers = Voucher.objects.filter(initiative=initiative)
        issued = vouchers.exists()
        if issued and "valid_from" in values:
            raise AmendmentError("vouchers_issued_start")
        if issued and "valid_until" in values and values["valid_until"] < initiative.valid_until:
            raise AmendmentError("vouchers_issued_shorten")

        for name, value in values.items():
            field = _rule_field(name)
            if not field.many_to_many:
                setattr(initiative, field.attname, value)
        _check(initiative, values)

        history_reason = str(_("Rettifica: %(reason)s") % {"reason": reason})
        initiative._change_reason = history_reason[:HISTORY_REASON_LENGTH]
        initiative._history_user = actor
        initiative.skip_history_when_saving = True  # one record below, relations included
        try:
            for name, value in values.items():
                if Initiative._meta.get_field(name).many_to_many:
                    getattr(initiative, name).set(value)
        finally:
            del initiative.skip_history_when_saving
        initiative.save()
        if issued and "valid_until" in values:
            # A longer validity is for the vouchers already in people's hands too.
            vouchers.filter(status=Voucher.Status.ACTIVE).update(valid_until=values["valid_until"])
        now = timezone.now()
        return InitiativeAmendment.objects.bulk_create(
            InitiativeAmendment(
                initiative=initiative,
                field=name,
                old_value=before[name],
                new_value=_stored(values[name]),
                reason=reason,
                amended_by=actor,
                amended_at=now,
            )
            for name in changed
        )
