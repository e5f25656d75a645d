"""Paying beneficiaries by transfer, and the municipality's transfer to the agency.

One beneficiary payment batch pays the approved reimbursement claims and the cash grants
(``vouchers.services.reimbursements``, ``vouchers.services.cash_grants``). The municipality's
transfer is recorded per call and matched against what the agency paid out for that call.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.models import Account, Journal, Organization, PaymentBatch
from core.money import ZERO, InvalidAmount, positive_euro
from core.selectors import money_sum
from core.services.ledger import Line, journal_post
from core.services.payments import PaymentOrder, payment_batch_prepare, street_and_number
from vouchers.models import (
    Application,
    IncomingTransfer,
    Initiative,
    ReimbursementClaim,
    Voucher,
)
from vouchers.selectors.payments import (
    PayableCashGrant,
    PayableClaim,
    beneficiary_transfers_paid,
    cash_grant_remittance,
    cash_grants_awaiting_payment,
    claim_remittance,
    claims_awaiting_payment,
    payable_cash_grants,
    payable_claims,
)
from vouchers.services.reimbursements import ClaimError


@dataclass
class BeneficiaryBatch:
    batch: PaymentBatch
    # Left out for their IBAN: claims (PayableClaim) and cash grants
    # (PayableCashGrant, whose ``application`` is the one to correct).
    excluded: list[PayableClaim | PayableCashGrant] = field(default_factory=list)


def beneficiary_payment_batch_prepare(
    *, initiative: Initiative | None = None, prepared_by: User, execution_date: date | None = None
) -> BeneficiaryBatch:
    """Prepare the batch paying every approved, unpaid claim and granted, unpaid cash
    grant (of one call, or of all).

    One transfer per claim, of its approved total, and one per cash grant, of the
    application's amount, to the application's IBAN; those with a missing or invalid IBAN
    stay out and are listed with the reason. What is in a batch not cancelled is not paid
    again.
    """
    with transaction.atomic():
        # Lock the claims and the applications so that two people preparing at once do not
        # pay one twice (a withdrawal locks the application too).
        list(
            ReimbursementClaim.objects.select_for_update()
            .filter(pk__in=claims_awaiting_payment(initiative=initiative).values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        list(
            Application.objects.select_for_update()
            .filter(pk__in=cash_grants_awaiting_payment(initiative=initiative).values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        payable, claims_excluded = payable_claims(initiative=initiative)
        payable = [item for item in payable if item.amount > ZERO]
        cash_grants, cash_grants_excluded = payable_cash_grants(initiative=initiative)
        excluded: list[PayableClaim | PayableCashGrant] = [*claims_excluded, *cash_grants_excluded]
        if not payable and not cash_grants:
            raise ClaimError("nothing_to_pay")
        orders = []
        for item in payable:
            claim = item.claim
            street, number = street_and_number(claim.application.street)
            orders.append(
                PaymentOrder(
                    creditor_name=claim.beneficiary.full_name,
                    iban=item.iban,
                    amount=item.amount,
                    remittance=claim_remittance(claim),
                    street=street,
                    building_number=number,
                    postcode=claim.application.postal_code,
                    town=claim.application.municipality.name,
                    country="IT",
                    beneficiary_ref=claim.beneficiary_id,
                    claim_ref=claim.pk,
                )
            )
        for grant in cash_grants:
            application = grant.application
            street, number = street_and_number(application.street)
            orders.append(
                PaymentOrder(
                    creditor_name=application.applicant.full_name,
                    iban=grant.iban,
                    amount=grant.amount,
                    remittance=cash_grant_remittance(application),
                    street=street,
                    building_number=number,
                    postcode=application.postal_code,
                    town=application.municipality.name,
                    country="IT",
                    beneficiary_ref=application.applicant_id,
                    application_ref=application.pk,
                )
            )
        batch = payment_batch_prepare(
            kind=PaymentBatch.Kind.BENEFICIARY_PAYMENTS,
            lines=orders,
            prepared_by=prepared_by,
            execution_date=execution_date,
        )
    return BeneficiaryBatch(batch=batch, excluded=excluded)


def received_account_key(*, initiative_id: int, municipality_id: int) -> str:
    return f"initiative:{initiative_id}:received:{municipality_id}"


def incoming_transfer_record(
    *,
    municipality: Organization,
    initiative: Initiative,
    amount: Decimal | str,
    value_date: date,
    bank_reference: str = "",
    note: str = "",
    recorded_by: User,
) -> IncomingTransfer:
    """Record the transfer a participating municipality made to the agency for a call.

    The call's money entered the ledger already, as the contribution that funded its budget:
    the transfer is the cash behind it, so it does not add to the budget (that would count
    the same euro twice). It is kept on its own pair of accounts, what the municipality
    transferred and what the call received from it, to be matched against what was paid out.
    """
    try:
        amount = positive_euro(amount)
    except (InvalidAmount, TypeError) as exc:
        raise ClaimError("transfer_amount_invalid") from exc
    if (
        municipality.kind != Organization.Kind.MUNICIPALITY
        or not initiative.municipalities.filter(pk=municipality.pk).exists()
    ):
        raise ClaimError("not_a_municipality")
    if value_date > timezone.localdate():
        raise ClaimError("value_date_future")
    bank_reference = (bank_reference or "").strip()
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=municipality.pk).first()
        if (
            bank_reference
            and IncomingTransfer.objects.filter(
                municipality=municipality, bank_reference=bank_reference
            ).exists()
        ):
            raise ClaimError("duplicate_transfer", reference=bank_reference)
        journal = journal_post(
            kind=Journal.Kind.INCOMING_TRANSFER,
            lines=[
                Line(
                    f"municipality:{municipality.pk}:transfers",
                    -amount,
                    Account.Kind.MUNICIPALITY_TRANSFERS,
                    f"Trasferimenti del {municipality.name}"[:200],
                ),
                Line(
                    received_account_key(
                        initiative_id=initiative.pk, municipality_id=municipality.pk
                    ),
                    amount,
                    Account.Kind.TRANSFERS_RECEIVED,
                    f"Ricevuto da {municipality.name} per {initiative.title}"[:200],
                ),
            ],
            memo=f"{municipality.name} · {bank_reference or value_date.isoformat()}",
            created_by=recorded_by,
        )
        return IncomingTransfer.objects.create(
            municipality=municipality,
            initiative=initiative,
            amount=amount,
            value_date=value_date,
            bank_reference=bank_reference[:50],
            note=(note or "").strip()[:255],
            journal=journal,
            recorded_by=recorded_by,
        )


@dataclass(frozen=True, slots=True)
class TransferMatch:
    """For one municipality of a call: what it transferred and what the agency paid out."""

    municipality: Organization
    received: Decimal
    paid_to_shops: Decimal
    paid_reimbursements: Decimal
    paid_cash_grants: Decimal

    @property
    def paid_to_beneficiaries(self) -> Decimal:
        return self.paid_reimbursements + self.paid_cash_grants

    @property
    def paid_out(self) -> Decimal:
        return self.paid_to_shops + self.paid_to_beneficiaries

    @property
    def difference(self) -> Decimal:
        """Positive: the agency holds money to give back; negative: still to receive."""
        return self.received - self.paid_out


def initiative_transfer_matching(
    *, initiative: Initiative, municipalities: QuerySet[Organization] | None = None
) -> list[TransferMatch]:
    """Match, per participating municipality, transfers received and payments made.

    Paid to shops: confirmed redemptions of the call's vouchers held by the municipality's
    residents, in settlements the bank has paid. Reimbursements and cash grants paid,
    each on its own: the transfers to the municipality's applicants that the bank paid and
    whose ledger entry is posted (the reports' figures, ``reports.figures``).
    """
    towns = initiative.municipalities.order_by("name")
    if municipalities is not None:
        towns = towns.filter(pk__in=municipalities.values("pk"))
    rows = []
    for town in towns:
        received = money_sum(
            IncomingTransfer.objects.filter(initiative=initiative, municipality=town)
        )
        # Redemptions belong to the merchants app, which builds on this one: reached through
        # the voucher's reverse relation, without importing it.
        shops = money_sum(
            Voucher.objects.filter(
                initiative=initiative,
                beneficiary__municipality=town,
                redemptions__status="confirmed",
                redemptions__settlement__payment_line__paid_at__isnull=False,
            ),
            "redemptions__amount",
        )
        paid = {
            kind: money_sum(
                beneficiary_transfers_paid(
                    initiative_ids=[initiative.pk], benefit_kind=kind, municipality_ids=[town.pk]
                )
            )
            for kind in (Initiative.BenefitKind.REIMBURSEMENT, Initiative.BenefitKind.CASH_TRANSFER)
        }
        rows.append(
            TransferMatch(
                town,
                received,
                shops,
                paid[Initiative.BenefitKind.REIMBURSEMENT],
                paid[Initiative.BenefitKind.CASH_TRANSFER],
            )
        )
    return rows
