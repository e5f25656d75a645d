"""What the demo holds now: logins, shops with their till keys, vouchers with their state."""

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import Organization
from merchants.models import DeviceKey, Merchant, hash_device_key
from merchants.selectors import merchant_in_circuit
from reports.demo.data import (
    AGENCY_NAME,
    BENEFICIARIES,
    BENEFICIARY,
    BENEFICIARY_LOGIN,
    CASHIER,
    FUND_NAME,
    FUNDERS,
    MERCHANT_OWNER,
    MERCHANTS,
    MUNICIPALITIES,
    STAFF,
    THIRD_SECTOR_NAME,
)
from reports.demo.identities import (
    demo_app_access,
    demo_device_key,
    demo_password,
    demo_usernames,
    demo_voucher_codes,
    shop_vat_number,
)
from vouchers.models import Initiative, Voucher

# Reporting ---------------------------------------------------------------------------------


def voucher_state(voucher: Voucher, *, today: date) -> str:
    """One of STATES, as a person would describe the voucher today."""
    if voucher.status == Voucher.Status.REVOKED:
        return "revoked"
    if voucher.status == Voucher.Status.EXHAUSTED:
        return "exhausted"
    if voucher.status == Voucher.Status.EXPIRED or voucher.valid_until < today:
        return "expired"
    if voucher.valid_from > today:
        return "not_yet_valid"
    if voucher.balance < voucher.face_value:
        return "partly_spent"
    return "active"


def _organization_names() -> dict[str, str]:
    names = {"agency": AGENCY_NAME, "third_sector": THIRD_SECTOR_NAME, "": ""}
    names.update({key: name for key, (name, *_rest) in MUNICIPALITIES.items()})
    names.update({key: name for key, (name, *_rest) in FUNDERS.items()})
    for key, (_name, istat_code, _email) in MUNICIPALITIES.items():
        # A municipality the installation already had keeps its own name.
        found = (
            Organization.objects.filter(istat_code=istat_code)
            .values_list("name", flat=True)
            .first()
        )
        names[key] = found or names[key]
    return names


def demo_report(*, today: date | None = None) -> dict[str, Any]:
    """What the demo holds now: logins, shops with their till keys, vouchers with their state.

    Built from the database, so that it is the same whether the data was just created or
    found. ``in_circuit`` says whether the shop can take the vouchers of at least one demo call.
    ``beneficiary`` is how the demo beneficiary logs in to the app (fiscal code and access
    code); each shop's ``owner`` and ``cashier`` log in to the till at ``/cassa/``.
    """
    today = today or timezone.localdate()
    org_names = _organization_names()
    existing = set(
        get_user_model()
        .objects.filter(username__in=demo_usernames())
        .values_list("username", flat=True)
    )

    def login(username: str, role: str, organization: str) -> dict[str, Any]:
        return {
            "username": username,
            "password": demo_password(username),
            "role": role,
            "organization": organization,
        }

    users = [
        login(staff.username, str(staff.role), org_names[staff.organization])
        for staff in STAFF
        if staff.username in existing
    ]
    holder = next(p for p in BENEFICIARIES if p.key == BENEFICIARY_LOGIN[1])
    if BENEFICIARY_LOGIN[0] in existing:
        users.append(login(BENEFICIARY_LOGIN[0], BENEFICIARY, org_names[holder.municipality]))

    initiative_ids = list(
        Initiative.objects.filter(
            fund__name=FUND_NAME, fund__manager__name=AGENCY_NAME
        ).values_list("pk", flat=True)
    )
    merchants = []
    for number, shop in enumerate(MERCHANTS):
        merchant = Merchant.objects.filter(vat_number=shop_vat_number(shop)).first()
        if merchant is None:
            continue
        owner = None
        if shop.owner.username in existing:
            users.append(login(shop.owner.username, MERCHANT_OWNER, merchant.name))
            owner = {
                "username": shop.owner.username,
                "password": demo_password(shop.owner.username),
            }
        cashier = None
        if shop.cashier is not None and shop.cashier.username in existing:
            users.append(login(shop.cashier.username, CASHIER, merchant.name))
            cashier = {
                "username": shop.cashier.username,
                "password": demo_password(shop.cashier.username),
            }
        raw_key = demo_device_key(number)
        key_exists = DeviceKey.objects.filter(
            merchant=merchant, key_hash=hash_device_key(raw_key), revoked_at=None
        ).exists()
        merchants.append(
            {
                "name": merchant.name,
                "status": merchant.status,
                "in_circuit": any(
                    merchant_in_circuit(merchant_id=merchant.pk, initiative_id=pk)
                    for pk in initiative_ids
                ),
                "device_key": raw_key if key_exists else None,
                "owner": owner,
                "cashier": cashier,
            }
        )

    vouchers = [
        {
            "code": voucher.code,
            "state": voucher_state(voucher, today=today),
            "balance": f"{voucher.balance:.2f}",
            "face_value": f"{voucher.face_value:.2f}",
            "partial_allowed": voucher.partial_allowed,
            "holder_name": voucher.beneficiary.full_name,
            "initiative": voucher.initiative.title,
        }
        for voucher in Voucher.objects.filter(code__in=demo_voucher_codes())
        .select_related("beneficiary", "initiative")
        .order_by("pk")
    ]
    return {
        "users": users,
        "beneficiary": demo_app_access(),
        "merchants": merchants,
        "vouchers": vouchers,
    }
