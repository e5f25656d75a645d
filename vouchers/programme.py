"""State changes of a call's phases: publication, intake, validation, ranking, issuing."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from operator import itemgetter

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.it import codicefiscale

from core.bulk import bulk_set
from core.errors import DomainError
from core.models import Organization
from core.money import ZERO, InvalidAmount, euro
from core.selectors import money_sum
from vouchers.cash import contribution_cancel, contributions_grant
from vouchers.models import (
    Application,
    ApplicationDocument,
    Beneficiary,
    Decision,
    Expense,
    HouseholdMember,
    Initiative,
    IssuanceRun,
    ProtocolCounter,
    ReimbursementClaim,
    Voucher,
)
from vouchers.notifications import initiative_notify_outcomes
from vouchers.services import (
    initiative_budget_available,
    vouchers_create,
)

# An ISEE above this is a slip of the keyboard (8500,00 read as 850000), not a household's.
ISEE_CEILING = Decimal("500000.00")


class ProgrammeError(DomainError):
    """Why a step of a call cannot be taken now."""

    messages = {
        "invalid_transition": _("Il bando è «%(status)s»: questa operazione non è possibile ora."),
        "window_missing": _("Indica apertura e chiusura delle domande prima di pubblicare."),
        "budget_missing": _("Assegna un budget dal fondo prima di pubblicare."),
        "municipalities_missing": _("Indica almeno un comune partecipante."),
        "categories_missing": _("Indica almeno una categoria di spesa ammessa."),
        "applications_closed": _("Le domande per questo bando non sono aperte."),
        "already_applied": _(
            "Questo codice fiscale ha già una domanda per questo bando (%(protocol)s)."
        ),
        "invalid_fiscal_code": _("Codice fiscale non valido: controlla lettere e cifre."),
        "fiscal_code_mismatch": _(
            "Il codice fiscale non corrisponde a data di nascita e sesso indicati."
        ),
        "not_resident": _("Il richiedente non risiede in uno dei comuni del bando."),
        "declarations_missing": _("Mancano dichiarazioni obbligatorie: %(missing)s."),
        "isee_required": _("Indica il valore ISEE."),
        "isee_too_high": _("L'ISEE (%(isee)s) supera il massimo del bando (%(max)s)."),
        "household_too_small": _("Il nucleo ha meno componenti di quanti chiede il bando."),
        "household_too_large": _("Il nucleo ha più componenti di quanti ammette il bando."),
        "not_enough_children": _("Il nucleo non ha abbastanza figli nella fascia d'età del bando."),
        "iban_required": _(
            "Per un bando che paga con bonifico (rimborso o contributo economico) serve l'IBAN."
        ),
        "invalid_iban": _("IBAN non valido: controlla paese, cifre di controllo e CIN."),
        "invalid_isee": _("Valore ISEE non valido."),
        "reason_required": _("Indica la motivazione."),
        "four_eyes": _(
            "Non puoi decidere una domanda che hai inserito tu: serve un altro convalidatore."
        ),
        "application_not_open": _("La domanda è «%(status)s»: questa decisione non è possibile."),
        "applications_pending": _(
            "Ci sono ancora %(count)s domande da istruire: decidile prima della graduatoria."
        ),
        "member_duplicate": _("Lo stesso codice fiscale compare due volte nel nucleo."),
        "not_a_voucher_call": _("Questo bando non emette buoni."),
    }


# Calls whose benefit is paid by transfer to the IBAN given with the application.
PAID_BY_TRANSFER = (Initiative.BenefitKind.REIMBURSEMENT, Initiative.BenefitKind.CASH_TRANSFER)
VOUCHER_KINDS = (Initiative.BenefitKind.VOUCHER_CARD, Initiative.BenefitKind.FIXED_BUONI)


@dataclass(frozen=True, slots=True)
class MemberData:
    fiscal_code: str
    first_name: str
    last_name: str
    birth_date: date
    is_child: bool = False


@dataclass(slots=True)
class ApplicantData:
    """What the desk, the applicant online or a tutor fill in for an application."""

    fiscal_code: str
    first_name: str
    last_name: str
    birth_date: date
    sex: str  # "M" or "F", as in the fiscal code
    municipality: Organization
    email: str = ""
    phone: str = ""
    street: str = ""
    postal_code: str = ""
    isee: Decimal | str | None = None
    dsu_protocol: str = ""
    iban: str = ""
    declarations_accepted: list[str] = field(default_factory=list)
    members: list[MemberData] = field(default_factory=list)


def _guard_status(initiative: Initiative, *allowed: str) -> None:
    if initiative.status not in allowed:
        raise ProgrammeError("invalid_transition", status=initiative.get_status_display())


def _set_status(initiative: Initiative, status: str) -> Initiative:
    initiative.status = status
    initiative.save(update_fields=["status"])
    return initiative


def _locked(initiative: Initiative) -> Initiative:
    return Initiative.objects.select_for_update().get(pk=initiative.pk)


def initiative_publish(*, initiative: Initiative) -> Initiative:
    """Publish a draft call once it has a window, a budget, municipalities and categories."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.DRAFT)
        if not (initiative.applications_open_at and initiative.applications_close_at):
            raise ProgrammeError("window_missing")
        if not initiative.municipalities.exists():
            raise ProgrammeError("municipalities_missing")
        if initiative.benefit_kind in VOUCHER_KINDS and not initiative.allowed_categories.exists():
            raise ProgrammeError("categories_missing")
        if initiative_budget_available(initiative=initiative) <= ZERO:
            raise ProgrammeError("budget_missing")
        return _set_status(initiative, Initiative.Status.PUBLISHED)


def initiative_close(*, initiative: Initiative) -> Initiative:
    """Close a published call to new applications."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.PUBLISHED)
        return _set_status(initiative, Initiative.Status.CLOSED)


def initiative_archive(*, initiative: Initiative) -> Initiative:
    """Archive a call whose benefits have been issued (or that was ranked and is over)."""
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.ISSUED, Initiative.Status.RANKED)
        return _set_status(initiative, Initiative.Status.ARCHIVED)


def _next_protocol(*, municipality: Organization, year: int) -> int:
    counter, _created = ProtocolCounter.objects.get_or_create(municipality=municipality, year=year)
    counter = ProtocolCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _child_ages(initiative: Initiative) -> tuple[int, int]:
    """The ages, in whole years and both included, of the children the call counts."""
    low = initiative.child_min_age if initiative.child_min_age is not None else 0
    high = initiative.child_max_age if initiative.child_max_age is not None else 200
    return low, high


def _age(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _children_in_range(initiative: Initiative, members: list[MemberData], on: date) -> int:
    low, high = _child_ages(initiative)
    return sum(
        1 for member in members if member.is_child and low <= _age(member.birth_date, on) <= high
    )


def _check_fiscal_code(data: ApplicantData) -> str:
    code = data.fiscal_code.strip().upper()
    try:
        codicefiscale.validate(code)
    except Exception as exc:  # stdnum raises several ValidationError subclasses
        raise ProgrammeError("invalid_fiscal_code") from exc
    if (
        codicefiscale.get_birth_date(code) != data.birth_date
        or codicefiscale.get_gender(code) != data.sex.upper()
    ):
        raise ProgrammeError("fiscal_code_mismatch")
    return code


# The refusals of application_eligibility_errors: rules of the call the applicant does not meet
# (not mistakes in what was typed), on which an application can be registered and rejected.
ELIGIBILITY_CODES = frozenset(
    {
        "not_resident",
        "declarations_missing",
        "isee_required",
        "isee_too_high",
        "household_too_small",
        "household_too_large",
        "not_enough_children",
    }
)


def application_eligibility_errors(
    *, initiative: Initiative, data: ApplicantData, on: date
) -> list[ProgrammeError]:
    """Return every rule of the call that the applicant does not meet."""
    errors: list[ProgrammeError] = []
    if (
        initiative.residency_required
        and not initiative.municipalities.filter(pk=data.municipality.pk).exists()
    ):
        errors.append(ProgrammeError("not_resident"))
    missing = [d for d in initiative.declaration_list if d not in data.declarations_accepted]
    if missing:
        # Each declaration is a sentence with its own full stop: quoted without it, so that
        # the message ends with one full stop, not ".);" and "..".
        listed = "; ".join(f"«{d.rstrip(' .;:')}»" for d in missing)
        errors.append(ProgrammeError("declarations_missing", missing=listed))
    if initiative.max_isee is not None:
        if data.isee is None or data.isee == "":
            errors.append(ProgrammeError("isee_required"))
        elif euro(data.isee) > initiative.max_isee:
            errors.append(
                ProgrammeError("isee_too_high", isee=euro(data.isee), max=initiative.max_isee)
            )
    household = 1 + len(data.members)
    if initiative.min_household_size and household < initiative.min_household_size:
        errors.append(ProgrammeError("household_too_small"))
    if initiative.max_household_size and household > initiative.max_household_size:
        errors.append(ProgrammeError("household_too_large"))
    if initiative.min_children and (
        _children_in_range(initiative, data.members, on) < initiative.min_children
    ):
        errors.append(ProgrammeError("not_enough_children"))
    return errors


def application_submit(
    *,
    initiative: Initiative,
    data: ApplicantData,
    channel: str,
    entered_by=None,
    tutor=None,
    now: datetime | None = None,
    register_ineligible: bool = False,
) -> Application:
    """Receive an application: check the call's rules, give it a protocol number, keep it.

    An applicant who does not meet the call's rules is refused with the first reason; with
    ``register_ineligible`` (the desk, once the operator confirms) the application is still
    registered with its protocol number and at once rejected with every reason, a decision
    the applicant is told like any other.
    """
    now = now or timezone.now()
    fiscal_code = _check_fiscal_code(data)
    if initiative.status != Initiative.Status.PUBLISHED or not (
        initiative.applications_open_at
        and initiative.applications_close_at
        and initiative.applications_open_at <= now <= initiative.applications_close_at
    ):
        raise ProgrammeError("applications_closed")
    try:
        isee = euro(data.isee) if data.isee not in (None, "") else None
    except InvalidAmount as exc:
        raise ProgrammeError("invalid_isee") from exc
    if isee is not None and not ZERO <= isee <= ISEE_CEILING:
        raise ProgrammeError("invalid_isee")
    iban = ""
    if data.iban:
        try:
            iban = IBAN(data.iban, validate_bban=True).compact
        except SchwiftyException as exc:
            raise ProgrammeError("invalid_iban") from exc
    elif initiative.benefit_kind in PAID_BY_TRANSFER:
        raise ProgrammeError("iban_required")
    member_codes = [m.fiscal_code.strip().upper() for m in data.members]
    if len(set(member_codes + [fiscal_code])) != len(member_codes) + 1:
        raise ProgrammeError("member_duplicate")
    for member in data.members:
        try:
            codicefiscale.validate(member.fiscal_code.strip().upper())
        except Exception as exc:  # stdnum raises several ValidationError subclasses
            raise ProgrammeError("invalid_fiscal_code") from exc
    errors = application_eligibility_errors(
        initiative=initiative, data=data, on=timezone.localdate(now)
    )
    if errors and not register_ineligible:
        raise errors[0]

    with transaction.atomic():
        existing = (
            Application.objects.filter(initiative=initiative, applicant__fiscal_code=fiscal_code)
            .only("protocol_year", "protocol_sequence")
            .first()
        )
        if existing is not None:
            raise ProgrammeError("already_applied", protocol=existing.protocol_number)
        beneficiary, _created = Beneficiary.objects.update_or_create(
            fiscal_code=fiscal_code,
            defaults={
                "first_name": data.first_name.strip(),
                "last_name": data.last_name.strip(),
                "municipality": data.municipality,
                **({"email": data.email.strip()} if data.email else {}),
                **({"phone": data.phone.strip()} if data.phone else {}),
            },
        )
        year = timezone.localdate(now).year
        try:
            with transaction.atomic():
                application = Application.objects.create(
                    initiative=initiative,
                    applicant=beneficiary,
                    municipality=data.municipality,
                    protocol_year=year,
                    protocol_sequence=_next_protocol(municipality=data.municipality, year=year),
                    channel=channel,
                    entered_by=entered_by,
                    tutor=tutor,
                    submitted_at=now,
                    street=data.street,
                    postal_code=data.postal_code,
                    isee=isee,
                    dsu_protocol=data.dsu_protocol,
                    iban=iban,
                    declarations_accepted=list(data.declarations_accepted),
                )
        except IntegrityError as exc:  # a concurrent submission of the same fiscal code
            raise ProgrammeError("already_applied", protocol="—") from exc
        HouseholdMember.objects.bulk_create(
            [
                HouseholdMember(
                    application=application,
                    fiscal_code=m.fiscal_code.strip().upper(),
                    first_name=m.first_name,
                    last_name=m.last_name,
                    birth_date=m.birth_date,
                    is_child=m.is_child,
                )
                for m in data.members
            ]
        )
        _flag_shared_households(application=application, codes=[fiscal_code, *member_codes])
        if errors:
            _refuse_ineligible(application=application, errors=errors)
    return application


def _refuse_ineligible(*, application: Application, errors: list[ProgrammeError]) -> None:
    """Reject a just-registered application by the call's rules, with every unmet rule."""
    # The record and the letter are in the office's language, whoever is at the desk.
    with translation.override(settings.LANGUAGE_CODE):
        reason = str(_("Requisiti del bando non soddisfatti: %(reasons)s")) % {
            "reasons": " ".join(str(error.detail) for error in errors)
        }
    Decision.objects.create(
        application=application,
        action=Decision.Action.REJECT,
        reason=reason,
        decided_by=None,  # by the call's rules, not by a person's judgement
        from_status=application.status,
        to_status=Application.Status.REJECTED,
    )
    application.status = Application.Status.REJECTED
    application.save(update_fields=["status"])


def _flag_shared_households(*, application: Application, codes: list[str]) -> None:
    """Flag this and any other application of the call that shares a household member."""
    others = (
        Application.objects.filter(initiative_id=application.initiative_id)
        .exclude(pk=application.pk)
        .filter(Q(applicant__fiscal_code__in=codes) | Q(members__fiscal_code__in=codes))
        .values_list("pk", flat=True)
        .distinct()
    )
    other_ids = list(others)
    if other_ids:
        Application.objects.filter(pk__in=[application.pk, *other_ids]).update(household_flag=True)
        application.household_flag = True


def _decide(
    *,
    application: Application,
    action: str,
    reason: str,
    by,
    allowed: tuple[str, ...],
    to_status: str,
    four_eyes: bool = True,
) -> Application:
    reason = (reason or "").strip()
    if not reason:
        raise ProgrammeError("reason_required")
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if four_eyes and by is not None and application.entered_by_id == by.pk:
            raise ProgrammeError("four_eyes")
        if application.status not in allowed:
            raise ProgrammeError("application_not_open", status=application.get_status_display())
        Decision.objects.create(
            application=application,
            action=action,
            reason=reason,
            decided_by=by,
            from_status=application.status,
            to_status=to_status,
        )
        application.status = to_status
        application.save(update_fields=["status"])
    return application


def application_approve(*, application: Application, reason: str, by) -> Application:
    """Admit an application (four eyes: never by the person who entered it)."""
    return _decide(
        application=application,
        action=Decision.Action.APPROVE,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED,),
        to_status=Application.Status.APPROVED,
    )


def application_reject(*, application: Application, reason: str, by) -> Application:
    """Reject an application with its reason (four eyes)."""
    return _decide(
        application=application,
        action=Decision.Action.REJECT,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED),
        to_status=Application.Status.REJECTED,
    )


def application_request_info(*, application: Application, reason: str, by) -> Application:
    """Ask the applicant for missing information (soccorso istruttorio)."""
    return _decide(
        application=application,
        action=Decision.Action.REQUEST_INFO,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED,),
        to_status=Application.Status.INFO_REQUESTED,
    )


def application_answer(*, application: Application, note: str, by=None) -> Application:
    """Record the applicant's answer; the application goes back to the validators' queue."""
    return _decide(
        application=application,
        action=Decision.Action.ANSWER,
        reason=note,
        by=by,
        allowed=(Application.Status.INFO_REQUESTED,),
        to_status=Application.Status.SUBMITTED,
        four_eyes=False,
    )


def application_amount(*, initiative: Initiative, application: Application, on: date) -> Decimal:
    """Compute what an application is entitled to by the call's amount rule and cap."""
    members = list(application.members.all())
    household = 1 + len(members)
    children = _children_in_range(
        initiative,
        [
            MemberData(m.fiscal_code, m.first_name, m.last_name, m.birth_date, m.is_child)
            for m in members
        ],
        on,
    )
    return _entitled_amount(initiative, household, children)


def _entitled_amount(initiative: Initiative, household: int, children: int) -> Decimal:
    """The amount rule and cap of the call for a household of this size and children."""
    rule = initiative.amount_rule
    if rule == Initiative.AmountRule.FIXED:
        amount = initiative.amount_base
    elif rule == Initiative.AmountRule.PER_MEMBER:
        amount = initiative.amount_per_member * household
    elif rule == Initiative.AmountRule.BASE_PLUS_MEMBER:
        amount = initiative.amount_base + initiative.amount_per_member * (household - 1)
    else:
        amount = initiative.amount_base + initiative.amount_per_child * children
    if initiative.amount_cap is not None:
        amount = min(amount, initiative.amount_cap)
    if initiative.benefit_kind == Initiative.BenefitKind.FIXED_BUONI:
        # Whole buoni only: the amount is a multiple of the face value.
        count = (amount / initiative.face_value).to_integral_value(rounding=ROUND_FLOOR)
        amount = initiative.face_value * count
    return amount.quantize(Decimal("0.01"))


# Where each ranking criterion sits in an application's ranking values (see initiative_rank).
_CRITERION_POSITION = {"isee_asc": 0, "household_desc": 1, "children_desc": 2}


def _ranking_key(criteria: list[str]) -> Callable[[tuple], tuple]:
    """Return what picks an application's sort key from its ranking values.

    The values are ``(ISEE or 1e12, -household size, -children, submission timestamp, id)``;
    the key is the call's criteria in order, then submission time and id, so no two tie.
    """
    return itemgetter(*(_CRITERION_POSITION[c] for c in criteria if c in _CRITERION_POSITION), 3, 4)


def _households(initiative: Initiative, on: date) -> dict[int, tuple[int, int]]:
    """Map each admitted application with members to (household size, children in range)."""
    low, high = _child_ages(initiative)
    sizes: dict[int, list[int]] = {}
    members = (
        HouseholdMember.objects.filter(
            application__initiative=initiative, application__status=Application.Status.APPROVED
        )
        .order_by()
        .values_list("application_id", "is_child", "birth_date")
    )
    for application_id, is_child, birth_date in members:
        size = sizes.get(application_id)
        if size is None:
            size = sizes[application_id] = [1, 0]
        size[0] += 1
        if is_child and low <= _age(birth_date, on) <= high:
            size[1] += 1
    return {application_id: (size[0], size[1]) for application_id, size in sizes.items()}


# Databases on which a ranking is computed and written by one SQL statement (window
# functions, jsonb): no round trip of every application through Python.
RANK_IN_DATABASE_VENDORS = frozenset({"postgresql"})


def initiative_rank(*, initiative: Initiative, on: date | None = None) -> Initiative:
    """Rank the admitted applications; the budget funds the top, the rest waits."""
    on = on or timezone.localdate()
    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.CLOSED)
        pending = initiative.applications.filter(
            status__in=[Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED]
        ).count()
        if pending:
            raise ProgrammeError("applications_pending", count=pending)
        available = initiative_budget_available(initiative=initiative)
        if connection.vendor in RANK_IN_DATABASE_VENDORS:
            _rank_in_database(initiative, on, available)
        else:
            _rank_in_python(initiative, on, available)
        return _set_status(initiative, Initiative.Status.RANKED)


def _rank_in_python(initiative: Initiative, on: date, available: Decimal) -> None:
    """Score, sort and split the admitted applications in Python; write them in one go."""
    # Only the columns the ranking reads, and the household sizes in one query, keep this
    # linear: a call can have hundreds of thousands of applications.
    households = _households(initiative, on)
    ranking_key = _ranking_key(initiative.ranking_criterion_list)
    amounts: dict[tuple[int, int], Decimal] = {}
    scored = []
    for pk, isee, submitted_at in (
        initiative.applications.filter(status=Application.Status.APPROVED)
        .order_by()
        .values_list("pk", "isee", "submitted_at")
    ):
        household, children = households.get(pk, (1, 0))
        amount = amounts.get((household, children))
        if amount is None:
            amount = amounts[household, children] = _entitled_amount(
                initiative, household, children
            )
        values = (
            float(isee) if isee is not None else 1e12,
            -household,
            -children,
            submitted_at.timestamp(),
            pk,
        )
        scored.append((ranking_key(values), pk, amount))
    scored.sort()  # keys end with the id: no two are equal
    committed = ZERO
    funded, waiting = Application.Outcome.FUNDED, Application.Outcome.WAITING
    ranking = []
    for position, (key, pk, amount) in enumerate(scored, start=1):
        if amount > ZERO and committed + amount <= available:
            committed += amount
            ranking.append((pk, amount, key, position, funded))
        else:
            ranking.append((pk, amount, key, position, waiting))
    # score_key: the key tuple goes to the JSON column as the same array as ever.
    bulk_set(Application, ["amount", "score_key", "rank", "outcome"], ranking)


# The SQL of each ranking value, as _rank_in_python computes it (the same order, the same
# JSON array in score_key). "1000000000000.0" is the key of an application without ISEE.
_CRITERION_SQL = {
    "isee_asc": "COALESCE(a.isee, 1000000000000.0)",
    "household_desc": "-COALESCE(h.household, 1)",
    "children_desc": "-COALESCE(h.children, 0)",
}


def _rank_in_database(initiative: Initiative, on: date, available: Decimal) -> None:
    """Score, sort, split and write the admitted applications in the database.

    The same ranking as ``_rank_in_python``: household sizes by one aggregate, amounts by
    the call's rule for each (household, children) pair found, positions and running totals
    by one window over the call's order, then one ``UPDATE … FROM``. Only the applications
    after the first that the budget cannot cover, and small enough to fit what is left, come
    back to Python, to be funded in order while the rest allows.
    """
    low, high = _child_ages(initiative)
    approved = Application.Status.APPROVED
    criteria = [_CRITERION_SQL[c] for c in initiative.ranking_criterion_list if c in _CRITERION_SQL]
    values = [*criteria, "EXTRACT(EPOCH FROM a.submitted_at)", "a.id"]
    with connection.cursor() as cursor:
        # The sort of the whole call in memory rather than in temporary files.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE application_household ON COMMIT DROP AS
            SELECT m.application_id, 1 + COUNT(*) AS household,
                   COUNT(*) FILTER (
                       WHERE m.is_child AND %(year)s - EXTRACT(YEAR FROM m.birth_date)::int
                           - CASE WHEN (%(month)s, %(day)s) < (
                               EXTRACT(MONTH FROM m.birth_date)::int,
                               EXTRACT(DAY FROM m.birth_date)::int
                           ) THEN 1 ELSE 0 END BETWEEN %(low)s AND %(high)s
                   ) AS children
            FROM vouchers_householdmember m
            JOIN vouchers_application a ON a.id = m.application_id
            WHERE a.initiative_id = %(initiative)s AND a.status = %(approved)s
            GROUP BY m.application_id
            """,
            {
                "year": on.year,
                "month": on.month,
                "day": on.day,
                "low": low,
                "high": high,
                "initiative": initiative.pk,
                "approved": approved,
            },
        )
        cursor.execute("ANALYZE application_household")
        cursor.execute("SELECT DISTINCT household, children FROM application_household")
        pairs = {(1, 0), *cursor.fetchall()}
        households, children, amounts = [], [], []
        for household, count in sorted(pairs):
            households.append(household)
            children.append(count)
            amounts.append(_entitled_amount(initiative, household, count))
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE application_ranking ON COMMIT DROP AS
            SELECT a.id, rule.amount,
                   row_number() OVER call_order AS position,
                   SUM(GREATEST(rule.amount, 0)) OVER call_order AS running,
                   jsonb_build_array({", ".join(values)}) AS score_key
            FROM vouchers_application a
            LEFT JOIN application_household h ON h.application_id = a.id
            JOIN UNNEST(%(households)s::int[], %(children)s::int[], %(amounts)s::numeric[])
                AS rule (household, children, amount)
                ON rule.household = COALESCE(h.household, 1)
                AND rule.children = COALESCE(h.children, 0)
            WHERE a.initiative_id = %(initiative)s AND a.status = %(approved)s
            WINDOW call_order AS (ORDER BY {", ".join(values)} ROWS UNBOUNDED PRECEDING)
            """,
            {
                "households": households,
                "children": children,
                "amounts": amounts,
                "initiative": initiative.pk,
                "approved": approved,
            },
        )
        cursor.execute("ANALYZE application_ranking")
        # Up to the first application the budget cannot cover, every one with an amount is
        # funded (its running total is within the budget); after it, those that fit what is
        # left, in order, each taking its share: few, and the only rows read back.
        cursor.execute(
            "SELECT COALESCE(MAX(running), 0) FROM application_ranking WHERE running <= %s",
            [available],
        )
        left = available - cursor.fetchone()[0]
        cursor.execute(
            "SELECT id, amount FROM application_ranking"
            " WHERE running > %s AND amount > 0 AND amount <= %s ORDER BY position",
            [available, left],
        )
        also_funded = []
        for pk, amount in cursor.fetchall():
            if amount <= left:
                also_funded.append(pk)
                left -= amount
        cursor.execute(
            """
            UPDATE vouchers_application a
            SET amount = r.amount, score_key = r.score_key, rank = r.position,
                outcome = CASE
                    WHEN r.amount > 0 AND (r.running <= %(available)s OR r.id = ANY(%(also)s))
                    THEN %(funded)s ELSE %(waiting)s END
            FROM application_ranking r
            WHERE a.id = r.id
            """,
            {
                "available": available,
                "also": also_funded,
                "funded": Application.Outcome.FUNDED,
                "waiting": Application.Outcome.WAITING,
            },
        )
        # Dropped now, not at commit: a caller's transaction may rank another call.
        cursor.execute("DROP TABLE application_ranking, application_household")


def _committed_unissued(initiative: Initiative) -> Decimal:
    """What the call's funded applications will still take from its budget.

    A funded application of a voucher or cash call takes its whole amount when the call
    issues; one of a reimbursement call takes it claim by claim, so what its approved claims
    already took from the budget is no longer committed.
    """
    total = ZERO
    for amount in initiative.applications.filter(outcome=Application.Outcome.FUNDED).values_list(
        "amount", flat=True
    ):
        total += amount or ZERO
    if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        total -= money_sum(
            Expense.objects.filter(
                claim__application__initiative=initiative,
                claim__application__outcome=Application.Outcome.FUNDED,
                claim__status__in=[
                    ReimbursementClaim.Status.APPROVED,
                    ReimbursementClaim.Status.PARTLY_APPROVED,
                    ReimbursementClaim.Status.PAID,
                ],
            ),
            "approved_amount",
        )
    return max(total, ZERO)


def waiting_list_fundable(*, initiative: Initiative) -> tuple[Decimal, list[Application]]:
    """The budget not yet committed, and the next waiting applications it can fund, in order.

    The ranking is strict: nobody overtakes the first who does not fit.
    """
    free = initiative_budget_available(initiative=initiative) - _committed_unissued(initiative)
    left = free
    fundable = []
    for application in initiative.applications.filter(
        outcome=Application.Outcome.WAITING, status=Application.Status.APPROVED
    ).order_by("rank"):
        if application.amount is None or application.amount <= ZERO:
            continue
        if application.amount > left:
            break
        left -= application.amount
        fundable.append(application)
    return free, fundable


def initiative_fund_waiting_list(*, initiative: Initiative) -> list[Application]:
    """Fund the next applications on the waiting list while the budget allows (scorrimento)."""
    with transaction.atomic():
        initiative = _locked(initiative)
        if initiative.status not in (Initiative.Status.RANKED, Initiative.Status.ISSUED):
            return []
        _free, funded = waiting_list_fundable(initiative=initiative)
        for application in funded:
            application.outcome = Application.Outcome.FUNDED
            application.save(update_fields=["outcome"])
        return funded


# Applications issued per transaction and journal: each commit waits for its WAL to reach
# the disk, and each chunk costs a dozen round trips.
ISSUE_CHUNK_SIZE = 5000


def _voucher_values(initiative: Initiative, amount: Decimal) -> list[Decimal]:
    if initiative.benefit_kind == Initiative.BenefitKind.FIXED_BUONI:
        return [initiative.face_value] * int(amount / initiative.face_value)
    return [amount]


def _locked_for_issue(initiative: Initiative) -> Initiative:
    initiative = _locked(initiative)
    if initiative.status not in (Initiative.Status.RANKED, Initiative.Status.ISSUED):
        raise ProgrammeError("invalid_transition", status=initiative.get_status_display())
    return initiative


def _funded_to_issue(initiative: Initiative, application_ids: list[int]) -> list[tuple]:
    """Lock the funded applications among these ids: ``(id, applicant id, amount)`` rows."""
    return list(
        Application.objects.select_for_update()
        .filter(
            pk__in=application_ids,
            initiative=initiative,
            outcome=Application.Outcome.FUNDED,
            status=Application.Status.APPROVED,
        )
        .order_by("pk")
        .values_list("pk", "applicant_id", "amount")
    )


def _mark_issued(applications: list[tuple]) -> None:
    Application.objects.filter(pk__in=[pk for pk, _applicant, _amount in applications]).update(
        outcome=Application.Outcome.ISSUED
    )


def _claim_funded(initiative: Initiative, application_ids: list[int]) -> list[tuple]:
    """Mark the funded applications among these ids issued: their ``(id, applicant id, amount)``.

    Called inside the issuing transaction, so that they are funded again if what follows
    fails. On PostgreSQL one ``UPDATE … RETURNING`` locks, re-checks and marks each row, with
    the ids as one array: a chunk's rows are written once, not locked and then rewritten, and
    no statement carries a thousand placeholders. Elsewhere they are locked, read and marked.
    """
    if connection.vendor != "postgresql":
        applications = _funded_to_issue(initiative, application_ids)
        _mark_issued(applications)
        return applications
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE vouchers_application SET outcome = %s"
            " WHERE id = ANY(%s::bigint[]) AND initiative_id = %s AND outcome = %s AND status = %s"
            " RETURNING id, applicant_id, amount",
            [
                Application.Outcome.ISSUED,
                list(application_ids),
                initiative.pk,
                Application.Outcome.FUNDED,
                Application.Status.APPROVED,
            ],
        )
        return sorted(cursor.fetchall())


def applications_vouchers_issue(
    *,
    initiative: Initiative,
    application_ids: list[int],
    issued_by=None,
    medium: str = Voucher.Medium.DIGITAL,
) -> list[Voucher]:
    """Issue the vouchers of funded applications in one transaction and one journal.

    Applications already issued, or no longer funded, are skipped: a retried chunk never
    gives anyone a second voucher. A call that pays by transfer issues no voucher.
    """
    with transaction.atomic():
        initiative = _locked_for_issue(initiative)
        if initiative.benefit_kind not in VOUCHER_KINDS:
            raise ProgrammeError("not_a_voucher_call")
        applications = _claim_funded(initiative, application_ids)
        if not applications:
            return []
        vouchers = vouchers_create(
            initiative=initiative,
            grants=[
                (applicant_id, pk, value)
                for pk, applicant_id, amount in applications
                for value in _voucher_values(initiative, amount or ZERO)
            ],
            medium=medium,
            issued_by=issued_by,
        )
    return vouchers


def applications_contributions_issue(
    *, initiative: Initiative, application_ids: list[int], issued_by=None
) -> int:
    """Grant the cash contributions of funded applications in one transaction and one journal.

    Each amount moves from the call's budget to what the agency owes the person, to be paid
    in a beneficiary payment batch; the application is issued. Applications already issued,
    or no longer funded, are skipped, so a retried chunk never grants twice; a budget that
    cannot cover the chunk refuses it whole.
    """
    with transaction.atomic():
        initiative = _locked_for_issue(initiative)
        if initiative.benefit_kind != Initiative.BenefitKind.CASH_TRANSFER:
            raise ProgrammeError("invalid_transition", status=initiative.get_status_display())
        applications = _claim_funded(initiative, application_ids)
        if not applications:
            return 0
        granted = contributions_grant(
            initiative=initiative, applications=applications, granted_by=issued_by
        )
    return granted


def applications_issue(
    *,
    initiative: Initiative,
    application_ids: list[int],
    issued_by=None,
    medium: str = Voucher.Medium.DIGITAL,
) -> int:
    """Issue the benefit of funded applications by the call's kind; return how many.

    Vouchers (counted one by one) for a voucher call; the contributions, for a cash call; a
    reimbursement call issues nothing (see ``initiative_issue``).
    """
    if initiative.benefit_kind == Initiative.BenefitKind.CASH_TRANSFER:
        return applications_contributions_issue(
            initiative=initiative, application_ids=application_ids, issued_by=issued_by
        )
    if initiative.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
        return 0
    return len(
        applications_vouchers_issue(
            initiative=initiative,
            application_ids=application_ids,
            issued_by=issued_by,
            medium=medium,
        )
    )


def initiative_issue(*, initiative: Initiative, issued_by=None, progress=None) -> int:
    """Issue the benefit of every funded application, chunk by chunk; return how many.

    By the call's kind: vouchers (the count is of vouchers), or cash contributions moved to
    what the agency owes each person, to be paid by transfer (the count is of applications).
    A reimbursement call issues nothing: its funded applications are already entitled to
    claim up to their amount, and the budget is spent claim by claim as claims are approved;
    issuing it only confirms those entitlements, moving the call to issued (the
    applications stay funded, so what they may still claim stays committed).

    Each chunk commits on its own, so an interrupted run is resumed by running it again.
    ``progress(done, total)`` is called after each chunk.
    """
    initiative = Initiative.objects.get(pk=initiative.pk)
    _guard_status(initiative, Initiative.Status.RANKED, Initiative.Status.ISSUED)
    pending = []
    if initiative.benefit_kind != Initiative.BenefitKind.REIMBURSEMENT:
        pending = list(
            initiative.applications.filter(
                outcome=Application.Outcome.FUNDED, status=Application.Status.APPROVED
            )
            .order_by("rank")
            .values_list("pk", flat=True)
        )
    issued = 0
    for start in range(0, len(pending), ISSUE_CHUNK_SIZE):
        chunk = pending[start : start + ISSUE_CHUNK_SIZE]
        issued += applications_issue(
            initiative=initiative, application_ids=chunk, issued_by=issued_by
        )
        if progress is not None:
            progress(min(start + ISSUE_CHUNK_SIZE, len(pending)), len(pending))
    with transaction.atomic():
        initiative = _locked(initiative)
        if initiative.status == Initiative.Status.RANKED:
            _set_status(initiative, Initiative.Status.ISSUED)
    if initiative.benefit_kind in VOUCHER_KINDS:
        # Those already told they were funded were promised a notice once the vouchers exist.
        initiative_notify_outcomes(initiative=initiative, vouchers_available_only=True)
    return issued


def initiative_reassign_budget(*, initiative: Initiative, issued_by=None) -> list[Application]:
    """Fund the waiting list with money that came back, and issue to them if the call issued.

    The people funded are told their new outcome (after commit, like every outcome).
    """
    funded = initiative_fund_waiting_list(initiative=initiative)
    initiative.refresh_from_db(fields=["status"])
    if funded and initiative.status == Initiative.Status.ISSUED:
        applications_issue(
            initiative=initiative, application_ids=[a.pk for a in funded], issued_by=issued_by
        )
    if funded:
        initiative_notify_outcomes(initiative=initiative, application_ids=[a.pk for a in funded])
    return funded


def application_withdraw(*, application: Application, reason: str, by=None) -> Application:
    """Withdraw an application; its money, if any, goes to the next on the waiting list."""
    from vouchers.services import voucher_revoke

    reason = (reason or "").strip()
    if not reason:
        raise ProgrammeError("reason_required")
    with transaction.atomic():
        application = _decide(
            application=application,
            action=Decision.Action.WITHDRAW,
            reason=reason,
            by=by,
            allowed=(
                Application.Status.SUBMITTED,
                Application.Status.INFO_REQUESTED,
                Application.Status.APPROVED,
            ),
            to_status=Application.Status.WITHDRAWN,
            four_eyes=False,
        )
        for voucher in application.vouchers.filter(status=Voucher.Status.ACTIVE):
            voucher_revoke(voucher=voucher, reason=reason, revoked_by=by)
        # A cash contribution not yet in a payment batch goes back to the budget.
        contribution_cancel(application=application, cancelled_by=by)
        if application.outcome != Application.Outcome.PENDING:
            application.outcome = Application.Outcome.PENDING
            application.save(update_fields=["outcome"])
    initiative_reassign_budget(initiative=application.initiative, issued_by=by)
    return application


def issuance_run_start(*, initiative: Initiative, started_by=None) -> IssuanceRun:
    """Queue the bulk issuing of a ranked call; the work runs as a task after commit.

    A run already on its way is returned; one the queue never took, or that waited too long
    for a worker, is handed to the queue again (``vouchers.issuance``). The run returned says
    whether the queue took it (``queued_at``) or why not (``error``).
    """
    from vouchers.issuance import issuance_run_enqueue, issuance_run_needs_queue

    with transaction.atomic():
        initiative = _locked(initiative)
        _guard_status(initiative, Initiative.Status.RANKED, Initiative.Status.ISSUED)
        run = initiative.issuance_runs.filter(
            status__in=[IssuanceRun.Status.QUEUED, IssuanceRun.Status.RUNNING]
        ).first()
        if run is None:
            run = IssuanceRun.objects.create(initiative=initiative, started_by=started_by)
        elif not issuance_run_needs_queue(run):
            return run
        run_id = run.pk
        transaction.on_commit(lambda: issuance_run_enqueue(run_id=run_id))
    run.refresh_from_db()
    return run


def issuance_run_execute(*, run: IssuanceRun) -> IssuanceRun:
    """Do the issuing of a queued run, recording progress after each chunk."""
    run = IssuanceRun.objects.select_related("initiative").get(pk=run.pk)
    if run.status == IssuanceRun.Status.DONE:
        return run
    IssuanceRun.objects.filter(pk=run.pk).update(status=IssuanceRun.Status.RUNNING)

    def progress(done: int, total: int) -> None:
        IssuanceRun.objects.filter(pk=run.pk).update(done=done, total=total)

    try:
        issued = initiative_issue(
            initiative=run.initiative, issued_by=run.started_by, progress=progress
        )
    except DomainError as error:
        IssuanceRun.objects.filter(pk=run.pk).update(
            status=IssuanceRun.Status.FAILED, error=error.detail, finished_at=timezone.now()
        )
    else:
        IssuanceRun.objects.filter(pk=run.pk).update(
            status=IssuanceRun.Status.DONE, vouchers_issued=issued, finished_at=timezone.now()
        )
    run.refresh_from_db()
    return run


def application_document_add(
    *, application: Application, uploaded, title: str, uploaded_by=None
) -> ApplicationDocument:
    """Attach a checked file (PDF, JPEG or PNG, at most 10 MB) to an application."""
    from core.uploads import checked_upload

    content_type = checked_upload(uploaded)
    return ApplicationDocument.objects.create(
        application=application,
        title=(title or uploaded.name)[:200],
        file=uploaded,
        content_type=content_type,
        uploaded_by=uploaded_by,
    )
