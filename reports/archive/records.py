"""A call's archive: its settings, applications, decisions, ranking, vouchers and messages."""

import json
from collections.abc import Iterator
from typing import Any, cast

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.selectors import account_balance, money_sum
from merchants.models import Redemption
from reports.archive.writer import choice_labels, chunked, protocol_number
from vouchers.models import (
    Application,
    Decision,
    Expense,
    HouseholdMember,
    Initiative,
    Notification,
    ReimbursementClaim,
    Voucher,
)


def initiative_json(initiative: Initiative) -> bytes:
    settings_ = {}
    for model_field in Initiative._meta.concrete_fields:
        value = getattr(initiative, model_field.attname)
        settings_[model_field.attname] = value
    data = {
        "initiative": settings_,
        "status_label": initiative.get_status_display(),
        "fund": {"id": initiative.fund_id, "name": initiative.fund.name},
        "municipalities": [
            {"id": m.pk, "name": m.name, "istat_code": m.istat_code}
            for m in initiative.municipalities.order_by("pk")
        ],
        "allowed_categories": [
            {"slug": c.slug, "name": c.name} for c in initiative.allowed_categories.order_by("pk")
        ],
        "documents": [
            {"id": d.pk, "title": d.title, "uploaded_at": d.uploaded_at}
            for d in initiative.documents.order_by("pk")
        ],
        "outcome_templates": [
            {"outcome": t.outcome, "subject": t.subject, "body": t.body}
            for t in initiative.outcome_templates.order_by("outcome")
        ],
        "retain_until": initiative.retain_until,
        "amendments": [
            {
                "rule": a.field,
                "old_value": a.old_value,
                "new_value": a.new_value,
                "reason": a.reason,
                "amended_by": a.amended_by.get_username() if a.amended_by else "",
                "amended_at": a.amended_at,
            }
            for a in initiative.amendments.select_related("amended_by").order_by("amended_at", "pk")
        ],
    }
    return json.dumps(
        data, cls=DjangoJSONEncoder, sort_keys=True, indent=2, ensure_ascii=False
    ).encode()


def summary_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    """The call's figures: counts and totals, the same before and after anonymisation."""
    applications = Application.objects.filter(initiative=initiative)
    for status, label in Application.Status.choices:
        count = applications.filter(status=status).count()
        yield _("Domande: %(status)s") % {"status": label}, count
    for outcome, label in Application.Outcome.choices:
        # Only an admitted application has a ranking's outcome (``Application.outcome_for``).
        count = applications.filter(status=Application.Status.APPROVED, outcome=outcome).count()
        yield _("Esito: %(outcome)s") % {"outcome": label}, count
    yield (
        _("Importo riconosciuto alle domande finanziate"),
        money_sum(
            applications.filter(
                outcome__in=[Application.Outcome.FUNDED, Application.Outcome.ISSUED]
            ),
            "amount",
        ),
    )
    vouchers = Voucher.objects.filter(initiative=initiative)
    yield _("Buoni emessi"), vouchers.count()
    yield _("Valore dei buoni emessi"), money_sum(vouchers, "face_value")
    yield _("Saldo residuo dei buoni"), money_sum(vouchers, "balance")
    for status, label in Voucher.Status.choices:
        yield _("Buoni: %(status)s") % {"status": label}, vouchers.filter(status=status).count()
    claims = ReimbursementClaim.objects.filter(initiative=initiative)
    yield _("Richieste di rimborso"), claims.count()
    expenses = Expense.objects.filter(claim__initiative=initiative)
    yield _("Spese presentate"), money_sum(expenses, "amount")
    yield _("Spese ammesse"), money_sum(expenses, "approved_amount")
    yield _("Budget disponibile del bando"), account_balance(key=initiative.budget_account_key)
    yield (
        _("Buoni in circolazione (contabilità)"),
        account_balance(key=initiative.outstanding_account_key),
    )
    yield from redemption_summary_rows(initiative)


def redemption_summary_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    confirmed = Redemption.objects.filter(
        voucher__initiative=initiative, status=Redemption.Status.CONFIRMED
    )
    yield _("Utilizzi confermati"), confirmed.count()
    yield _("Importo degli utilizzi confermati"), money_sum(confirmed)
    yield (
        _("Importo liquidato agli esercenti"),
        money_sum(confirmed.filter(settlement__isnull=False)),
    )


def applications_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    members = (
        HouseholdMember.objects.filter(application=OuterRef("pk"))
        .order_by()
        .values("application")
        .annotate(count=Count("pk"))
        .values("count")[:1]
    )
    status, channel = (
        choice_labels(Application.Status.choices),
        choice_labels(Application.Channel.choices),
    )
    rows = (
        Application.objects.filter(initiative=initiative)
        .annotate(members_count=Coalesce(Subquery(members, output_field=IntegerField()), Value(0)))
        .order_by("pk")
        .values_list(
            "pk",
            "protocol_year",
            "protocol_sequence",
            "municipality__istat_code",
            "municipality__name",
            "applicant__fiscal_code",
            "applicant__last_name",
            "applicant__first_name",
            "applicant__email",
            "applicant__phone",
            "channel",
            "status",
            "outcome",
            "submitted_at",
            "street",
            "postal_code",
            "isee",
            "dsu_protocol",
            "iban",
            "members_count",
            "household_flag",
            "rank",
            "amount",
            "entered_by__username",
            "tutor__username",
        )
    )
    for row in chunked(rows):
        (pk, year, sequence, istat, town, fiscal_code, last, first, email, phone) = row[:10]
        (channel_, status_, outcome_, submitted, street, postal_code) = row[10:16]
        (isee, dsu, iban, members_count, flag, rank, amount, entered_by, tutor) = row[16:]
        yield (
            pk,
            protocol_number(year, sequence),
            istat,
            town,
            fiscal_code,
            last,
            first,
            email,
            phone,
            channel.get(channel_, channel_),
            status.get(status_, status_),
            str(Application.outcome_for(status=status_, outcome=outcome_)[1]),
            submitted,
            street,
            postal_code,
            isee,
            dsu,
            iban,
            1 + members_count,
            flag,
            rank,
            amount,
            entered_by,
            tutor,
        )


APPLICATIONS_HEADER = [
    gettext_lazy("id"),
    gettext_lazy("protocollo"),
    gettext_lazy("codice ISTAT"),
    gettext_lazy("comune"),
    gettext_lazy("codice fiscale"),
    gettext_lazy("cognome"),
    gettext_lazy("nome"),
    gettext_lazy("e-mail"),
    gettext_lazy("telefono"),
    gettext_lazy("canale"),
    gettext_lazy("stato"),
    gettext_lazy("esito"),
    gettext_lazy("presentata il"),
    gettext_lazy("indirizzo"),
    gettext_lazy("CAP"),
    gettext_lazy("ISEE"),
    gettext_lazy("protocollo DSU"),
    gettext_lazy("IBAN"),
    gettext_lazy("componenti del nucleo"),
    gettext_lazy("nucleo già presente"),
    gettext_lazy("posizione"),
    gettext_lazy("importo riconosciuto"),
    gettext_lazy("inserita da"),
    gettext_lazy("tutor"),
]


def members_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    rows = (
        HouseholdMember.objects.filter(application__initiative=initiative)
        .order_by("application_id", "pk")
        .values_list(
            "application__protocol_year",
            "application__protocol_sequence",
            "fiscal_code",
            "last_name",
            "first_name",
            "birth_date",
            "is_child",
        )
    )
    for year, sequence, *rest in chunked(rows):
        yield (protocol_number(year, sequence), *rest)


def decisions_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    actions = choice_labels(Decision.Action.choices)
    statuses = choice_labels(Application.Status.choices)
    rows = (
        Decision.objects.filter(application__initiative=initiative)
        .order_by("application_id", "decided_at", "pk")
        .values_list(
            "pk",
            "application__protocol_year",
            "application__protocol_sequence",
            "action",
            "from_status",
            "to_status",
            "reason",
            "decided_by__username",
            "decided_at",
        )
    )
    for pk, year, sequence, action, before, after, *rest in chunked(rows):
        yield (
            pk,
            protocol_number(year, sequence),
            actions.get(action, action),
            statuses.get(before, before),
            statuses.get(after, after),
            *rest,
        )


def ranking_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    """The ranking as published: protocol numbers, positions and outcomes, no names."""
    rows = (
        Application.objects.filter(initiative=initiative, rank__isnull=False)
        .order_by("rank", "pk")
        .values_list(
            "rank",
            "protocol_year",
            "protocol_sequence",
            "municipality__name",
            "status",
            "outcome",
            "amount",
            "score_key",
        )
    )
    for rank, year, sequence, town, status, outcome, amount, score_key in chunked(rows):
        yield (
            rank,
            protocol_number(year, sequence),
            town,
            str(Application.outcome_for(status=status, outcome=outcome)[1]),
            amount,
            score_key,
        )


def vouchers_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    statuses, media = choice_labels(Voucher.Status.choices), choice_labels(Voucher.Medium.choices)
    rows = (
        Voucher.objects.filter(initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "code",
            "application__protocol_year",
            "application__protocol_sequence",
            "beneficiary__fiscal_code",
            "face_value",
            "balance",
            "status",
            "medium",
            "issued_at",
            "valid_from",
            "valid_until",
            "closed_at",
            "closed_reason",
        )
    )
    for pk, code, year, sequence, holder, face, balance, status, medium, *rest in chunked(rows):
        # Never the whole code: it is a bearer secret while the voucher can be spent.
        yield (
            pk,
            f"…{code[-4:]}",
            protocol_number(year, sequence) if year else "",
            holder,
            face,
            balance,
            statuses.get(status, status),
            media.get(medium, medium),
            *rest,
        )


def notifications_rows(initiative: Initiative) -> Iterator[tuple[Any, ...]]:
    channels, statuses = (
        choice_labels(Notification.Channel.choices),
        choice_labels(Notification.Status.choices),
    )
    # A field with choices: not None.
    outcome_choices = cast(list[tuple[str, str]], Notification._meta.get_field("outcome").choices)
    outcomes = choice_labels(outcome_choices)
    rows = (
        Notification.objects.filter(application__initiative=initiative)
        .order_by("pk")
        .values_list(
            "pk",
            "application__protocol_year",
            "application__protocol_sequence",
            "outcome",
            "channel",
            "recipient",
            "status",
            "created_at",
            "sent_at",
            "subject",
            "body",
        )
    )
    for pk, year, sequence, outcome, channel, recipient, status, *rest in chunked(rows):
        yield (
            pk,
            protocol_number(year, sequence),
            outcomes.get(outcome, outcome),
            channels.get(channel, channel),
            recipient,
            statuses.get(status, status),
            *rest,
        )
