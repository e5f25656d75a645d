"""What a beneficiary and the public see: their vouchers, applications and claims, the open
calls and the public rankings."""

from decimal import Decimal

from django.db.models import QuerySet

from core.models import (
    Account,
    Posting,
)
from core.selectors import money_sum
from vouchers.models import (
    Application,
    Decision,
    Initiative,
    ReimbursementClaim,
    Voucher,
)


def voucher_ledger_balance(*, voucher_id: int) -> Decimal:
    """Recompute a voucher's balance from the ledger alone."""
    return money_sum(
        Posting.objects.filter(
            account__kind=Account.Kind.VOUCHERS_OUTSTANDING, voucher_ref=voucher_id
        )
    )


def vouchers_of_holder(*, beneficiary_id: int) -> QuerySet[Voucher]:
    return (
        Voucher.objects.filter(beneficiary_id=beneficiary_id)
        .select_related("initiative")
        .order_by("-issued_at")
    )


def public_initiatives() -> QuerySet[Initiative]:
    """The calls citizens see in the app: published and after, never a draft or an archive."""
    return Initiative.objects.filter(status__in=Initiative.PUBLIC_STATUSES)


def open_initiatives() -> QuerySet[Initiative]:
    """The published calls, by title: those the app's home page offers."""
    return Initiative.objects.filter(status=Initiative.Status.PUBLISHED).order_by("title")


def ranking_initiatives() -> QuerySet[Initiative]:
    """The calls whose ranking is public."""
    return Initiative.objects.filter(status__in=Initiative.RANKING_PUBLIC_STATUSES)


def initiative_public_ranking(*, initiative: Initiative) -> list[dict[str, object]]:
    """The public ranking of a call: protocol numbers, positions and outcomes only, no names."""
    rows = (
        initiative.applications.filter(rank__isnull=False)
        .order_by("rank")
        .values("rank", "protocol_year", "protocol_sequence", "status", "outcome")
    )
    return [
        {
            "rank": row["rank"],
            "protocol": Application.protocol_for(
                year=row["protocol_year"], sequence=row["protocol_sequence"]
            ),
            "outcome": Application.outcome_for(status=row["status"], outcome=row["outcome"])[1],
        }
        for row in rows
    ]


def applications_of_applicant(*, beneficiary_id: int) -> QuerySet[Application]:
    """A citizen's own applications, the latest first."""
    return (
        Application.objects.filter(applicant_id=beneficiary_id)
        .select_related("initiative")
        .order_by("-submitted_at")
    )


def application_last_information_request(*, application: Application) -> Decision | None:
    """The request for information the applicant has still to answer, if any."""
    if application.status != Application.Status.INFO_REQUESTED:
        return None
    return (
        application.decisions.filter(action=Decision.Action.REQUEST_INFO)
        .order_by("-decided_at")
        .first()
    )


def claims_of_beneficiary(*, beneficiary_id: int) -> QuerySet[ReimbursementClaim]:
    """A citizen's own reimbursement claims with their expenses, the latest first."""
    return (
        ReimbursementClaim.objects.filter(beneficiary_id=beneficiary_id)
        .select_related("initiative")
        .prefetch_related("expenses__category")
        .order_by("-submitted_at")
    )
