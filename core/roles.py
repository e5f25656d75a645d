"""Staff roles as Django groups, and the organisations whose data a user may see."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from core.models import Membership, Organization, Role

VIEW, ADD, CHANGE = "view", "add", "change"

# What each role may do, by app label and model name. Scoping to the user's own
# municipality (or own cases, for tutors) is applied on top by the selectors.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    Role.AGENCY_ADMIN: {
        "core.organization": (VIEW, ADD, CHANGE),
        "core.membership": (VIEW, ADD, CHANGE),
        "core.fund": (VIEW, ADD, CHANGE),
        "core.contribution": (VIEW, ADD),
        "core.journal": (VIEW,),
        "core.account": (VIEW,),
        "vouchers.initiative": (VIEW, ADD, CHANGE),
        "vouchers.initiativedocument": (VIEW, ADD, CHANGE),
        "vouchers.application": (VIEW,),
        "vouchers.decision": (VIEW,),
        "vouchers.notification": (VIEW,),
        "vouchers.issuancerun": (VIEW,),
        "vouchers.outcometemplate": (VIEW, ADD, CHANGE),
        "vouchers.beneficiary": (VIEW,),
        "vouchers.voucher": (VIEW, ADD, CHANGE),
        "vouchers.spendingcategory": (VIEW, ADD, CHANGE),
        "core.paymentbatch": (VIEW, ADD, CHANGE),
        "core.paymentline": (VIEW,),
        "merchants.merchant": (VIEW, ADD, CHANGE),
        "merchants.merchantstaff": (VIEW, ADD, CHANGE),
        "merchants.devicekey": (VIEW, ADD, CHANGE),
        "merchants.redemption": (VIEW,),
        "merchants.settlement": (VIEW, ADD),
        "merchants.refusedattempt": (VIEW,),
    },
    Role.PROGRAMME_MANAGER: {
        "vouchers.initiative": (VIEW, ADD, CHANGE),
        "vouchers.initiativedocument": (VIEW, ADD, CHANGE),
        "vouchers.outcometemplate": (VIEW, ADD, CHANGE),
        "vouchers.application": (VIEW,),
        "vouchers.decision": (VIEW,),
        "vouchers.notification": (VIEW,),
        "vouchers.issuancerun": (VIEW,),
        "vouchers.beneficiary": (VIEW,),
        "vouchers.voucher": (VIEW, ADD, CHANGE),
        "vouchers.spendingcategory": (VIEW,),
        "core.paymentbatch": (VIEW, CHANGE),
        "merchants.merchant": (VIEW,),
        "merchants.redemption": (VIEW,),
        "core.fund": (VIEW,),
    },
    Role.DESK_OPERATOR: {
        "vouchers.initiative": (VIEW,),
        "vouchers.application": (VIEW, ADD, CHANGE),
        "vouchers.householdmember": (VIEW, ADD, CHANGE),
        "vouchers.beneficiary": (VIEW, ADD, CHANGE),
        "vouchers.voucher": (VIEW,),
        "vouchers.notification": (VIEW,),
    },
    Role.VALIDATOR: {
        "vouchers.initiative": (VIEW,),
        "vouchers.application": (VIEW, CHANGE),
        "vouchers.decision": (VIEW, ADD),
        "vouchers.beneficiary": (VIEW,),
        "vouchers.householdmember": (VIEW,),
    },
    Role.TUTOR: {
        "vouchers.initiative": (VIEW,),
        "vouchers.application": (VIEW, ADD),
        "vouchers.householdmember": (VIEW, ADD),
        "vouchers.beneficiary": (VIEW,),
    },
    Role.FUND_MANAGER: {
        "core.fund": (VIEW, ADD, CHANGE),
        "core.contribution": (VIEW, ADD),
        "core.journal": (VIEW,),
        "core.account": (VIEW,),
        "vouchers.initiative": (VIEW,),
    },
    # Funders read aggregates on the dashboard only: no list of people or shops.
    Role.FUNDER: {},
}


def roles_sync() -> dict[str, Group]:
    """Create or update one group per role with exactly its permissions; safe to repeat."""
    groups = {}
    with transaction.atomic():
        for role, models in ROLE_PERMISSIONS.items():
            group, _created = Group.objects.get_or_create(name=Role(role).label)
            wanted = Q(pk__in=[])
            for model_key, actions in models.items():
                app_label, model = model_key.split(".")
                wanted |= Q(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            group.permissions.set(Permission.objects.filter(wanted))
            groups[role] = group
    return groups


def role_group(role: str) -> Group:
    """Return the group of a role, creating it with its permissions the first time."""
    group = Group.objects.filter(name=Role(role).label).first()
    return group if group is not None else roles_sync()[role]


def membership_grant(*, user, organization: Organization, role: str) -> Membership:
    """Give a staff user a role in an organisation, with the role's permissions."""
    with transaction.atomic():
        membership, _created = Membership.objects.get_or_create(
            user=user, organization=organization, role=role
        )
        user.groups.add(role_group(role))
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return membership


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def sees_everything(user) -> bool:
    """Superusers and the agency see every municipality."""
    return bool(user.is_superuser) or Role.AGENCY_ADMIN in user_roles(user)


def municipality_ids(user) -> set[int]:
    """The municipalities whose citizens this staff user may see."""
    if not user.is_authenticated:
        return set()
    return set(
        Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.MUNICIPALITY
        ).values_list("organization_id", flat=True)
    )
