"""An application's life: intake with its protocol number, validation decisions, documents,
withdrawal.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.it import codicefiscale

from core.models import Organization
from core.money import ZERO, InvalidAmount, euro
from core.uploads import checked_upload
from vouchers.errors import ProgrammeError
from vouchers.models import (
    Application,
    ApplicationDocument,
    Beneficiary,
    Decision,
    HouseholdMember,
    Initiative,
    ProtocolCounter,
    Voucher,
)
from vouchers.services.cash_grants import cash_grant_cancel
from vouchers.services.expiry import voucher_revoke
from vouchers.services.initiatives import PAID_BY_TRANSFER
from vouchers.services.ranking import children_in_range
from vouchers.services.waiting_list import initiative_reassign_budget

# An ISEE above this is a slip of the keyboard (8500,00 read as 850000), not a household's.
ISEE_CEILING = Decimal("500000.00")


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


def _next_protocol(*, municipality: Organization, year: int) -> int:
    counter, _created = ProtocolCounter.objects.get_or_create(municipality=municipality, year=year)
    counter = ProtocolCounter.objects.select_for_update().get(pk=counter.pk)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


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
        children_in_range(initiative, data.members, on) < initiative.min_children
    ):
        errors.append(ProgrammeError("not_enough_children"))
    return errors


def application_submit(
    *,
    initiative: Initiative,
    data: ApplicantData,
    channel: str,
    entered_by: User | None = None,
    tutor: User | None = None,
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
    by: User | None,
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


def application_approve(*, application: Application, reason: str, by: User) -> Application:
    """Admit an application (four eyes: never by the person who entered it)."""
    return _decide(
        application=application,
        action=Decision.Action.APPROVE,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED,),
        to_status=Application.Status.APPROVED,
    )


def application_reject(*, application: Application, reason: str, by: User) -> Application:
    """Reject an application with its reason (four eyes)."""
    return _decide(
        application=application,
        action=Decision.Action.REJECT,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED, Application.Status.INFO_REQUESTED),
        to_status=Application.Status.REJECTED,
    )


def application_request_info(*, application: Application, reason: str, by: User) -> Application:
    """Ask the applicant for missing information (soccorso istruttorio)."""
    return _decide(
        application=application,
        action=Decision.Action.REQUEST_INFO,
        reason=reason,
        by=by,
        allowed=(Application.Status.SUBMITTED,),
        to_status=Application.Status.INFO_REQUESTED,
    )


def application_answer(
    *, application: Application, note: str, by: User | None = None
) -> Application:
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


def application_withdraw(
    *, application: Application, reason: str, by: User | None = None
) -> Application:
    """Withdraw an application; its money, if any, goes to the next on the waiting list."""
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
        # A cash grant not yet in a payment batch goes back to the budget.
        cash_grant_cancel(application=application, cancelled_by=by)
        if application.outcome != Application.Outcome.PENDING:
            application.outcome = Application.Outcome.PENDING
            application.save(update_fields=["outcome"])
    initiative_reassign_budget(initiative=application.initiative, issued_by=by)
    return application


def application_document_add(
    *,
    application: Application,
    uploaded: "UploadedFile[Any]",
    title: str,
    uploaded_by: User | None = None,
) -> ApplicationDocument:
    """Attach a checked file (PDF, JPEG or PNG, at most 10 MB) to an application."""

    content_type = checked_upload(uploaded)
    return ApplicationDocument.objects.create(
        application=application,
        title=(title or uploaded.name or "")[:200],
        file=uploaded,
        content_type=content_type,
        uploaded_by=uploaded_by,
    )
