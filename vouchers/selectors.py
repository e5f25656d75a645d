"""Read queries about calls, beneficiaries and vouchers."""

from decimal import Decimal

from django.db.models import Q, QuerySet

from core.models import Account, Posting, Role
from core.roles import municipality_ids, sees_everything, user_roles
from core.selectors import money_sum
from vouchers.models import Application, Beneficiary, Initiative, Voucher


def voucher_visible_to(*, user, voucher_id: int) -> Voucher | None:
    """Return the voucher if the user is its holder or staff allowed to see vouchers."""
    voucher = (
        Voucher.objects.select_related("beneficiary", "initiative").filter(pk=voucher_id).first()
    )
    if voucher is None or not user.is_authenticated:
        return None
    if voucher.beneficiary.user_id == user.pk:
        return voucher
    if (
        user.is_staff
        and user.has_perm("vouchers.view_voucher")
        and vouchers_for(user=user).filter(pk=voucher.pk).exists()
    ):
        return voucher
    return None


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


def initiatives_for(*, user) -> QuerySet[Initiative]:
    """Calls this staff user may see: all for the agency, else his municipalities' calls."""
    calls = Initiative.objects.all()
    if sees_everything(user):
        return calls
    return calls.filter(municipalities__in=municipality_ids(user)).distinct()


def applications_for(*, user) -> QuerySet[Application]:
    """Applications this user may see: his municipalities' citizens, or a tutor's own cases."""
    applications = Application.objects.all()
    if sees_everything(user):
        return applications
    roles = user_roles(user)
    scope = Q(municipality_id__in=municipality_ids(user)) if roles - {Role.TUTOR} else Q(pk__in=[])
    if Role.TUTOR in roles:
        scope |= Q(tutor=user)
    if Role.FUNDER in roles and roles == {Role.FUNDER}:
        return applications.none()
    return applications.filter(scope)


def beneficiaries_for(*, user) -> QuerySet[Beneficiary]:
    beneficiaries = Beneficiary.objects.all()
    if sees_everything(user):
        return beneficiaries
    roles = user_roles(user)
    if roles <= {Role.FUNDER}:
        return beneficiaries.none()
    if roles == {Role.TUTOR}:
        return beneficiaries.filter(applications__tutor=user).distinct()
    return beneficiaries.filter(municipality_id__in=municipality_ids(user))


def vouchers_for(*, user) -> QuerySet[Voucher]:
    vouchers = Voucher.objects.all()
    if sees_everything(user):
        return vouchers
    return vouchers.filter(beneficiary__in=beneficiaries_for(user=user))
