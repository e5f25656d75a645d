"""Retention of personal data: after a call's term, its beneficiaries become anonymous.

An archived call keeps its beneficiaries' personal data for ``retention_years`` after the end
of its validity. Then names, fiscal codes, contacts, IBANs, addresses, household members,
uploaded documents and receipts, the texts and recipients of the outcome messages, the ways
to log in and the records of past logins, and the transfers that paid them are replaced by
placeholders or deleted, in the live rows and in their history. Every amount, count, status,
date, municipality and category stays, and no journal is touched (the ledger's accounts of
each person are only renamed after his number): the call's figures and its ledger read the
same afterwards. tests/vouchers/test_anonymisation_everywhere.py reads every table for what
is left.

A beneficiary who also belongs to a call whose data is still kept keeps his own row (name,
fiscal code, contacts); only what belongs to this call is anonymised. His row is anonymised
by the last of his calls to be anonymised.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import CharField, Model, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, PaymentLine
from core.services.payment_ledger import beneficiary_paid_key, beneficiary_payable_key
from vouchers.models import (
    Application,
    ApplicationDocument,
    Beneficiary,
    Expense,
    HouseholdMember,
    Initiative,
    LoginLink,
    Notification,
    ReimbursementClaim,
    Voucher,
)
from vouchers.selectors.runs import initiatives_due_for_anonymisation, retention_expired
from vouchers.services.archive_exports import initiative_archives_delete

logger = logging.getLogger(__name__)

# Placeholders are data, not interface text: they read the same in every language.
ANONYMOUS_NAME = "Anonimo"
REMOVED_TEXT = "[dato rimosso]"
REMOVED_DOCUMENT = "[documento rimosso]"
CHUNK = 2000


class RetentionError(DomainError):
    messages = {
        "not_archived": _("Si anonimizzano solo i bandi archiviati: «%(title)s» è «%(status)s»."),
        "retention_running": _(
            "I dati personali del bando «%(title)s» si conservano fino al %(date)s."
        ),
    }


@dataclass(slots=True)
class AnonymisationResult:
    initiative_id: int
    already_done: bool = False
    applications: int = 0
    household_members: int = 0
    documents_deleted: int = 0
    receipts_deleted: int = 0
    notifications: int = 0
    archives_deleted: int = 0  # prepared archive ZIPs still downloadable
    beneficiaries_anonymised: int = 0
    beneficiaries_kept: list[int] = field(default_factory=list)  # still in a kept call


def anonymised_fiscal_code(pk: int) -> str:
    """A unique placeholder of 16 characters, never a valid codice fiscale."""
    return f"ANON{pk:012d}"


def _beneficiary_ids(initiative: Initiative) -> set[int]:
    ids = set(
        Application.objects.filter(initiative=initiative).values_list("applicant_id", flat=True)
    )
    ids |= set(
        Voucher.objects.filter(initiative=initiative).values_list("beneficiary_id", flat=True)
    )
    ids |= set(
        ReimbursementClaim.objects.filter(initiative=initiative).values_list(
            "beneficiary_id", flat=True
        )
    )
    return ids


def _kept_elsewhere(beneficiary_ids: set[int], initiative: Initiative) -> set[int]:
    """Of these people, who belongs to another call whose personal data is still kept."""
    others = Initiative.objects.exclude(pk=initiative.pk).filter(
        personal_data_erased_at__isnull=True
    )
    kept: set[int] = set()
    ids = sorted(beneficiary_ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        kept |= set(
            Beneficiary.objects.filter(pk__in=chunk)
            .filter(
                Q(applications__initiative__in=others)
                | Q(vouchers__initiative__in=others)
                | Q(reimbursement_claims__initiative__in=others)
            )
            .values_list("pk", flat=True)
            .distinct()
        )
    return kept


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:  # the row no longer points at it: log and go on
                logger.exception("Could not delete the stored file %s", name)

    if names:
        transaction.on_commit(delete)


def _anonymise_applications(initiative: Initiative, result: AnonymisationResult) -> None:
    applications = Application.objects.filter(initiative=initiative)
    personal = {"street": "", "postal_code": "", "dsu_protocol": "", "iban": ""}
    result.applications = applications.update(**personal)
    Application.history.filter(initiative_id=initiative.pk).update(**personal)

    members = HouseholdMember.objects.filter(application__initiative=initiative).order_by("pk")
    result.household_members = _bulk_replace(
        members.only("pk", "birth_date"),
        lambda member: {
            "fiscal_code": anonymised_fiscal_code(member.pk),
            "first_name": ANONYMOUS_NAME,
            "last_name": "",
            # The year of birth stays, for figures by age; the rest of the date goes.
            "birth_date": member.birth_date.replace(month=1, day=1),
        },
    )

    documents = ApplicationDocument.objects.filter(application__initiative=initiative)
    names = [n for n in documents.values_list("file", flat=True) if n]
    result.documents_deleted = len(names)
    documents.update(file="", title=REMOVED_DOCUMENT)
    _delete_files_on_commit(names)

    expenses = Expense.objects.filter(claim__initiative=initiative)
    receipts = [n for n in expenses.values_list("receipt", flat=True) if n]
    result.receipts_deleted = len(receipts)
    expenses.update(receipt="", description="")
    _delete_files_on_commit(receipts)

    notifications = Notification.objects.filter(application__initiative=initiative)
    result.notifications = notifications.update(
        recipient="", subject=REMOVED_TEXT, body=REMOVED_TEXT, error=""
    )

    claim_ids = ReimbursementClaim.objects.filter(initiative=initiative).values("pk")
    # The transfers that reimbursed the call's beneficiaries or paid their cash
    # grants: amounts and ids stay.
    PaymentLine.objects.filter(
        Q(claim_ref__in=claim_ids) | Q(application_ref__in=applications.values("pk"))
    ).update(
        creditor_name=ANONYMOUS_NAME,
        creditor_iban="",
        creditor_bic="",
        street="",
        building_number="",
        postcode="",
        town="",
    )


def _bulk_replace[M: Model](queryset: QuerySet[M], values: Callable[[M], dict[str, Any]]) -> int:
    """Set ``values(row)`` on every row, chunk by chunk, without saving one row at a time."""
    count = 0
    rows = []
    fields: list[str] = []
    for row in queryset.iterator(chunk_size=CHUNK):
        changes = values(row)
        fields = list(changes)
        for name, value in changes.items():
            setattr(row, name, value)
        rows.append(row)
        if len(rows) == CHUNK:
            count += len(rows)
            type(row)._default_manager.bulk_update(rows, fields)
            rows = []
    if rows:
        count += len(rows)
        type(rows[0])._default_manager.bulk_update(rows, fields)
    return count


def _beneficiary_placeholder(pk: int) -> dict[str, Any]:
    return {
        "fiscal_code": anonymised_fiscal_code(pk),
        "first_name": ANONYMOUS_NAME,
        "last_name": f"#{pk}",
        "email": "",
        "phone": "",
    }


def _anonymise_beneficiaries(ids: list[int]) -> None:
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        users = list(
            Beneficiary.objects.filter(pk__in=chunk, user__isnull=False).values_list(
                "user_id", flat=True
            )
        )
        _forget_logins(chunk, users)
        # bulk_update writes no history row: the history is anonymised below, not added to.
        _bulk_replace(
            Beneficiary.objects.filter(pk__in=chunk).order_by("pk").only("pk"),
            lambda beneficiary: {
                **_beneficiary_placeholder(beneficiary.pk),
                "user": None,
                "access_code_hash": "",
            },
        )
        _bulk_replace(
            Beneficiary.history.filter(id__in=chunk)
            .order_by("history_id")
            .only("history_id", "id"),
            lambda row: _beneficiary_placeholder(row.id),
        )
        LoginLink.objects.filter(beneficiary_id__in=chunk).delete()
        # The app accounts of these people; a staff account is only unlinked.
        get_user_model().objects.filter(pk__in=users, is_staff=False, is_superuser=False).update(
            username=Concat(Value("anonimo-"), Cast("pk", CharField())),
            first_name="",
            last_name="",
            email="",
            is_active=False,
            password=make_password(None),
        )
        # The ledger's accounts of what was owed and paid to each person are named after
        # him: they keep their keys and postings, and take his number instead.
        for kind, key, name in (
            (
                Account.Kind.BENEFICIARY_PAYABLE,
                beneficiary_payable_key,
                "Debito verso il beneficiario",
            ),
            (Account.Kind.BENEFICIARY_PAID, beneficiary_paid_key, "Pagato al beneficiario"),
        ):
            Account.objects.filter(kind=kind, key__in=[key(pk) for pk in chunk]).update(
                name=Concat(Value(f"{name} "), Cast("pk", CharField()))
            )
        # The admin's own log names the people it changed.
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Beneficiary),
            object_id__in=[str(pk) for pk in chunk],
        ).update(object_repr=ANONYMOUS_NAME)


def _forget_logins(beneficiary_ids: list[int], user_ids: list[int]) -> None:
    """Delete the login records of these people: their accounts' names, and the fiscal
    codes or e-mail addresses they typed as user names, with the addresses they came from."""
    names = set(get_user_model().objects.filter(pk__in=user_ids).values_list("username", flat=True))
    for fiscal_code, email in Beneficiary.objects.filter(pk__in=beneficiary_ids).values_list(
        "fiscal_code", "email"
    ):
        names |= {fiscal_code, email, f"beneficiario-{fiscal_code}"}
    lowered = sorted({name.lower() for name in names if name})
    for model in (AccessAttempt, AccessFailureLog, AccessLog):
        model.objects.annotate(lower_username=Lower("username")).filter(
            lower_username__in=lowered
        ).delete()


def initiative_anonymise(
    *,
    initiative: Initiative,
    by: User | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> AnonymisationResult:
    """Replace the personal data of an archived call past its term; keep every figure.

    Running it again on an anonymised call changes nothing.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
        result = AnonymisationResult(initiative_id=initiative.pk)
        if initiative.personal_data_erased_at is not None:
            result.already_done = True
            return result
        if initiative.status != Initiative.Status.ARCHIVED:
            raise RetentionError(
                "not_archived", title=initiative.title, status=initiative.get_status_display()
            )
        if not retention_expired(initiative, today=today):
            raise RetentionError(
                "retention_running",
                title=initiative.title,
                date=initiative.retain_until.strftime("%d/%m/%Y"),
            )
        beneficiaries = _beneficiary_ids(initiative)
        kept = _kept_elsewhere(beneficiaries, initiative)
        _anonymise_applications(initiative, result)
        anonymised = sorted(beneficiaries - kept)
        _anonymise_beneficiaries(anonymised)
        result.beneficiaries_anonymised = len(anonymised)
        result.beneficiaries_kept = sorted(kept)
        # The archive ZIPs prepared for download hold the data just removed.
        result.archives_deleted = initiative_archives_delete(initiative=initiative)
        initiative.personal_data_erased_at = now or timezone.now()
        initiative._change_reason = "Dati personali anonimizzati"
        initiative._history_user = by
        initiative.save(update_fields=["personal_data_erased_at"])
    logger.info(
        "Anonymised the personal data of call %s: %s beneficiaries, %s kept for other calls",
        initiative.pk,
        result.beneficiaries_anonymised,
        len(result.beneficiaries_kept),
    )
    return result


def expired_initiatives_anonymise(
    *, today: date | None = None, by: User | None = None
) -> list[AnonymisationResult]:
    """Anonymise every archived call past its term, each in its own transaction."""
    return [
        initiative_anonymise(initiative=initiative, by=by, today=today)
        for initiative in initiatives_due_for_anonymisation(today=today)
    ]
