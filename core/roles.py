"""Staff roles as Django groups, and the organisations whose data a user may see."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, Group, Permission, User
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
        "core.posting": (VIEW,),
        "core.account": (VIEW,),
        "vouchers.initiative": (VIEW, ADD, CHANGE),
        "vouchers.initiativedocument": (VIEW, ADD, CHANGE),
        "vouchers.application": (VIEW,),
        "vouchers.decision": (VIEW,),
        "vouchers.notification": (VIEW,),
        "vouchers.issuancerun": (VIEW,),
        "vouchers.archiveexport": (VIEW,),
        "vouchers.outcometemplate": (VIEW, ADD, CHANGE),
        "vouchers.beneficiary": (VIEW,),
        "vouchers.voucher": (VIEW, ADD, CHANGE),
        "vouchers.spendingcategory": (VIEW, ADD, CHANGE),
        "core.paymentbatch": (VIEW, ADD, CHANGE),
        "core.paymentline": (VIEW,),
        "vouchers.reimbursementclaim": (VIEW, ADD, CHANGE),
        "vouchers.incomingtransfer": (VIEW, ADD),
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
        "vouchers.archiveexport": (VIEW,),
        "vouchers.beneficiary": (VIEW,),
        "vouchers.voucher": (VIEW, ADD, CHANGE),
        "vouchers.spendingcategory": (VIEW,),
        "core.paymentbatch": (VIEW, CHANGE),
        "vouchers.reimbursementclaim": (VIEW,),
        "vouchers.incomingtransfer": (VIEW,),
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
        "vouchers.reimbursementclaim": (VIEW, ADD),
    },
    Role.VALIDATOR: {
        "vouchers.initiative": (VIEW,),
        "vouchers.application": (VIEW, CHANGE),
        "vouchers.reimbursementclaim": (VIEW, CHANGE),
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
        "core.posting": (VIEW,),
        "core.account": (VIEW,),
        "vouchers.initiative": (VIEW,),
    },
    # Funders read aggregates on the dashboard only: no list of people or shops.
    Role.FUNDER: {},
}


def roles_sync(*, using: str = "default") -> dict[str, Group]:
    """Create or update one group per role with exactly its permissions; safe to repeat."""
    groups = {}
    with transaction.atomic(using=using):
        for role, models in ROLE_PERMISSIONS.items():
            group, _created = Group.objects.using(using).get_or_create(name=Role(role).label)
            wanted = Q(pk__in=[])
            for model_key, actions in models.items():
                app_label, model = model_key.split(".")
                wanted |= Q(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            group.permissions.set(Permission.objects.using(using).filter(wanted))
            groups[role] = group
    return groups


def role_group(role: str) -> Group:
    """Return the group of a role, creating it with its permissions the first time."""
    group = Group.objects.filter(name=Role(role).label).first()
    return group if group is not None else roles_sync()[role]


def membership_grant(*, user: User, organization: Organization, role: str) -> Membership:
    """Give a staff user a role in an organisation, with the role's permissions."""
    with transaction.atomic():
        membership, _created = Membership.objects.get_or_create(
            user=user, organization=organization, role=role
        )
        user.groups.add(role_group(role))
        user_roles_forget(user)
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return membership


_MEMBERSHIPS_CACHE = "_buonocomune_memberships"

# Whoever a request carries: a signed-in person or nobody.
type AnyUser = User | AnonymousUser


def user_memberships(user: AnyUser) -> tuple[tuple[str, int, str], ...]:
    """The user's ``(role, organisation id, organisation kind)``, read once per user object.

    One request's menus, permission checks and scoping ask many times; the user object
    lives for one request, and ``membership_grant`` forgets what it remembered.
    """
    if not user.is_authenticated:
        return ()
    cached: tuple[tuple[str, int, str], ...] | None = user.__dict__.get(_MEMBERSHIPS_CACHE)
    if cached is None:
        cached = tuple(
            Membership.objects.filter(user_id=user.pk).values_list(
                "role", "organization_id", "organization__kind"
            )
        )
        user.__dict__[_MEMBERSHIPS_CACHE] = cached
    return cached


def user_roles_forget(user: AnyUser) -> None:
    """Drop the memberships remembered on this user object, after one changes."""
    user.__dict__.pop(_MEMBERSHIPS_CACHE, None)


def user_roles(user: AnyUser) -> set[str]:
    return {role for role, _organization, _kind in user_memberships(user)}


def sees_everything(user: AnyUser) -> bool:
    """Superusers and the agency see every municipality."""
    return bool(user.is_superuser) or Role.AGENCY_ADMIN in user_roles(user)


def municipality_ids(user: AnyUser) -> set[int]:
    """The municipalities whose citizens this staff user may see."""
    return {
        organization
        for _role, organization, kind in user_memberships(user)
        if kind == Organization.Kind.MUNICIPALITY
    }
