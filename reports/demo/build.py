"""The demo built: organisations, funds, calls, people and shops, through the services."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.models import Fund, Organization
from core.roles import membership_grant
from core.services.funding import _contribution_record as contribution_record
from merchants.models import Merchant, MerchantStaff
from merchants.services.accreditation import merchant_set_status
from merchants.services.devices import device_key_create
from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from reports.attribution import attribution_refresh_all
from reports.demo.data import (
    AGENCY_NAME,
    BENEFICIARIES,
    BENEFICIARY_LOGIN,
    BERGAMO,
    CATEGORIES,
    EXPIRED_INITIATIVES,
    FUND_NAME,
    FUNDERS,
    INITIATIVES,
    MERCHANTS,
    MUNICIPALITIES,
    REDEMPTIONS,
    REVOCATIONS,
    STAFF,
    SUPERUSER,
    THIRD_SECTOR_NAME,
    Person,
)
from reports.demo.identities import (
    demo_access_code,
    demo_device_key,
    demo_password,
    demo_usernames,
    demo_voucher_codes,
    person_fiscal_code,
    shop_iban,
    shop_vat_number,
)
from reports.demo.transfers import existing_context, transfer_initiatives
from vouchers.models import Beneficiary, Initiative, SpendingCategory, Voucher
from vouchers.services.access import access_code_issue
from vouchers.services.applications import (
    ApplicantData,
    MemberData,
    application_approve,
    application_request_info,
    application_submit,
)
from vouchers.services.expiry import voucher_expire, voucher_revoke
from vouchers.services.funding import initiative_funding_assign
from vouchers.services.initiatives import initiative_publish
from vouchers.services.issuing import voucher_issue_bulk


class DemoConflict(Exception):
    """Rows the demo would create already exist with other data (usernames, codes, VAT)."""


# Building ----------------------------------------------------------------------------------


def demo_present() -> bool:
    return Organization.objects.filter(kind=Organization.Kind.AGENCY, name=AGENCY_NAME).exists()


def _check_conflicts() -> None:
    taken = list(
        get_user_model()
        .objects.filter(username__in=demo_usernames())
        .values_list("username", flat=True)
    )
    taken += Beneficiary.objects.filter(
        fiscal_code__in=[person_fiscal_code(p) for p in BENEFICIARIES]
    ).values_list("fiscal_code", flat=True)
    taken += Merchant.objects.filter(
        vat_number__in=[shop_vat_number(s) for s in MERCHANTS]
    ).values_list("vat_number", flat=True)
    if taken:
        raise DemoConflict(", ".join(sorted(taken)))


def _organization(kind: str, name: str, **fields: Any) -> Organization:
    """Reuse an organisation of that kind and name if the installation has one."""
    found = Organization.objects.filter(kind=kind, name=name).order_by("pk").first()
    return found or Organization.objects.create(kind=kind, name=name, **fields)


def _municipality(name: str, istat_code: str, email: str) -> Organization:
    found = Organization.objects.filter(istat_code=istat_code).first()
    if found is not None:
        return found
    municipality = Organization(
        kind=Organization.Kind.MUNICIPALITY, name=name, istat_code=istat_code, email=email
    )
    municipality.full_clean()
    municipality.save()
    return municipality


def _user(
    username: str,
    first_name: str,
    last_name: str,
    *,
    is_staff: bool = False,
    is_superuser: bool = False,
    email: str = "",
) -> User:
    user = get_user_model()(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email or f"{username}@example.org",
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    user.set_password(demo_password(username))
    user.save()
    return user


@dataclass
class Summary:
    calls: int = 0
    beneficiaries: int = 0
    vouchers: int = 0
    merchants: int = 0
    users: int = 0
    applications: int = 0
    extended: bool = False  # calls added to a demo that was already there


def seed_demo(*, today: date | None = None) -> Summary | None:
    """Create the demo data; return what was created, or None if it was already there."""
    today = today or timezone.localdate()
    with transaction.atomic():
        if demo_present():
            return _extend(today)
        _check_conflicts()
        return _build(today)


def _extend(today: date) -> Summary | None:
    """Add to a demo built before them the calls paid by transfer; None if nothing was new."""
    context = existing_context()
    if context is None:
        return None
    calls, applications = transfer_initiatives(context, today)
    if not calls:
        return None
    attribution_refresh_all()
    return Summary(calls=calls, applications=applications, extended=True)


def _build(today: date) -> Summary:
    summary = Summary()
    agency = Organization.objects.create(
        kind=Organization.Kind.AGENCY, name=AGENCY_NAME, email="info@welfare-insieme.example.org"
    )
    orgs = {"agency": agency}
    for key, (name, istat_code, email) in MUNICIPALITIES.items():
        orgs[key] = _municipality(name, istat_code, email)
    for key, (name, funder_kind, *_rest) in FUNDERS.items():
        orgs[key] = _organization(Organization.Kind.FUNDER, name, funder_kind=funder_kind)
    orgs["third_sector"] = _organization(Organization.Kind.THIRD_SECTOR, THIRD_SECTOR_NAME)

    users = {}
    for staff in STAFF:
        users[staff.username] = _user(
            staff.username,
            staff.first_name,
            staff.last_name,
            is_staff=True,
            is_superuser=staff.role == SUPERUSER,
        )
        if staff.role != SUPERUSER:
            membership_grant(
                user=users[staff.username], organization=orgs[staff.organization], role=staff.role
            )
    summary.users += len(STAFF)

    categories = {
        slug: SpendingCategory.objects.get_or_create(slug=slug, defaults={"name": name})[0]
        for slug, name in CATEGORIES.items()
    }

    fund = Fund.objects.create(
        name=FUND_NAME,
        manager=agency,
        description="Fondo misto pubblico-privato: contributo regionale e di una fondazione.",
    )
    contributions = {}
    for key, (_name, _kind, amount, reference, days_ago) in FUNDERS.items():
        contributions[key] = contribution_record(
            fund=fund,
            funder=orgs[key],
            amount=amount,
            received_on=today - timedelta(days=days_ago),
            document_reference=reference,
            recorded_by=users["fondo"],
        )

    beneficiaries = {}
    for person in BENEFICIARIES:
        beneficiary = Beneficiary(
            fiscal_code=person_fiscal_code(person),
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            phone=person.phone,
            municipality=orgs[person.municipality],
        )
        beneficiary.full_clean()
        beneficiary.save()
        beneficiaries[person.key] = beneficiary
    summary.beneficiaries = len(beneficiaries)
    login_username, login_holder = BENEFICIARY_LOGIN
    holder = beneficiaries[login_holder]
    holder.user = _user(login_username, holder.first_name, holder.last_name, email=holder.email)
    holder.save(update_fields=["user"])
    # A code derived from the secret key, so that it can be printed again on the next run.
    access_code_issue(beneficiary=holder, raw_code=demo_access_code().replace("-", ""))
    summary.users += 1

    codes = iter(demo_voucher_codes())
    manager = users["responsabile"]
    vouchers: dict[tuple[str, str], list[Voucher]] = {}
    published: dict[str, Initiative] = {}
    for call in INITIATIVES:
        initiative = Initiative(
            title=call.title,
            description=call.description,
            fund=fund,
            face_value=Decimal(call.face_value),
            partial_allowed=call.partial_allowed,
            benefit_kind=(
                Initiative.BenefitKind.VOUCHER_CARD
                if call.partial_allowed
                else Initiative.BenefitKind.FIXED_BUONI
            ),
            amount_base=Decimal(call.face_value) * call.quantity,
            planned_budget=Decimal(call.budget),
            valid_from=today + timedelta(days=call.starts_in),
            valid_until=today + timedelta(days=call.ends_in),
            status=Initiative.Status.DRAFT if call.published else Initiative.Status.ISSUED,
        )
        if call.published:
            opens = timezone.make_aware(datetime.combine(today - timedelta(days=5), time(9)))
            initiative.applications_open_at = opens
            initiative.applications_close_at = opens + timedelta(days=45)
        initiative.full_clean()
        initiative.save()
        initiative.municipalities.set([orgs[key] for key in call.municipalities])
        initiative.allowed_categories.set([categories[slug] for slug in call.categories])
        # Two sources per call, so that the funders' reports show the attribution.
        budget = Decimal(call.budget)
        regional = (budget * 2 / 3).quantize(Decimal("0.01"))
        for key, share in (("regione", regional), ("fondazione", budget - regional)):
            initiative_funding_assign(
                initiative=initiative,
                contribution=contributions[key],
                amount=share,
                assigned_by=manager,
            )
        if call.published:
            initiative = initiative_publish(initiative=initiative)
            published[call.key] = initiative
        if call.holders:
            issued = voucher_issue_bulk(
                initiative=initiative,
                beneficiaries=[beneficiaries[key] for key in call.holders],
                quantity=call.quantity,
                issued_by=manager,
                code_factory=lambda: next(codes),
            )
            for voucher in issued:
                vouchers.setdefault((call.key, _key_of(beneficiaries, voucher)), []).append(voucher)
            summary.vouchers += len(issued)
    summary.calls = len(INITIATIVES)

    shops = {}
    tills = {}
    for number, shop in enumerate(MERCHANTS):
        merchant = Merchant(
            name=shop.name,
            legal_name=shop.legal_name,
            vat_number=shop_vat_number(shop),
            iban=shop_iban(shop),
            street=shop.street,
            postal_code=shop.postal_code,
            town=shop.town,
            province="BG",
            email=f"{shop.owner.username}@example.org",
        )
        merchant.full_clean()
        merchant.save()
        merchant.categories.set([categories[slug] for slug in shop.categories])
        merchant.municipalities.set([orgs[key] for key in shop.municipalities])
        owner = _user(shop.owner.username, shop.owner.first_name, shop.owner.last_name)
        MerchantStaff.objects.create(user=owner, merchant=merchant, role=MerchantStaff.Role.OWNER)
        summary.users += 1
        cashier = None
        device = None
        if shop.cashier is not None:
            cashier = _user(shop.cashier.username, shop.cashier.first_name, shop.cashier.last_name)
            MerchantStaff.objects.create(
                user=cashier, merchant=merchant, role=MerchantStaff.Role.CASHIER
            )
            summary.users += 1
            device, _raw = device_key_create(
                merchant=merchant, name="Cassa 1", created_by=owner, raw_key=demo_device_key(number)
            )
        if shop.status in (Merchant.Status.ACCREDITED, Merchant.Status.SUSPENDED):
            # A suspended shop was accredited first and took vouchers before the suspension.
            merchant_set_status(merchant=merchant, status=Merchant.Status.ACCREDITED)
        shops[shop.key] = merchant
        tills[shop.key] = (cashier, device)
    summary.merchants = len(shops)

    for number, (initiative_key, holder_key, index, shop_key, spent, by_device) in enumerate(
        REDEMPTIONS
    ):
        cashier, device = tills[shop_key]
        till = (
            Till(merchant=shops[shop_key], device=device)
            if by_device
            else Till(merchant=shops[shop_key], user=cashier)
        )
        voucher_redeem(
            till=till,
            code=vouchers[(initiative_key, holder_key)][index].code,
            amount=spent,
            idempotency_key=f"demo-redemption-{number}",
        )
    for initiative_key, holder_key, index, reason in REVOCATIONS:
        voucher_revoke(
            voucher=vouchers[(initiative_key, holder_key)][index], reason=reason, revoked_by=manager
        )
    for (initiative_key, _holder_key), issued in vouchers.items():
        if initiative_key in EXPIRED_INITIATIVES:
            for voucher in issued:
                voucher_expire(voucher=voucher, today=today)

    for shop in MERCHANTS:
        if shop.status in (Merchant.Status.SUSPENDED, Merchant.Status.REJECTED):
            merchant_set_status(merchant=shops[shop.key], status=shop.status, reason=shop.reason)
    summary.applications = _applications(published["inverno"], users, orgs, today)
    context = {
        "fund": fund,
        "orgs": orgs,
        "contributions": contributions,
        "users": {**users, login_username: holder.user},
        "categories": categories,
    }
    calls, applications = transfer_initiatives(context, today)
    summary.calls += calls
    summary.applications += applications
    attribution_refresh_all()
    return summary


# Applications to the open call, so that the desk, the validators and the tutor have work:
# (person, channel, entered by, decision by the validator or None, shares the household of)
APPLICATIONS = [
    ("bonfanti", "desk", "sportello", ("approve", "Requisiti verificati con la DSU."), None),
    ("pesenti", "desk", "sportello", ("request_info", "Manca la DSU aggiornata al 2026."), None),
    ("mazzoleni", "desk", "sportello", None, None),
    ("cortinovis", "desk", "sportello", None, "mazzoleni"),
    ("gritti", "online", None, None, None),
    ("lorenzi", "tutor", "tutor", None, None),
    ("zanchi", "desk", "sportello.seriate", None, None),
]
SHARED_MEMBER = Person(
    key="rota-bambino",
    first_name="Luca",
    last_name="Mazzoleni",
    female=False,
    birth_date=date(2016, 5, 4),
    birthplace=BERGAMO,
    municipality="bergamo",
    email="",
    phone="",
)


def _applications(
    initiative: Initiative, users: dict[str, User], orgs: dict[str, Organization], today: date
) -> int:
    people = {person.key: person for person in BENEFICIARIES}
    child = MemberData(
        person_fiscal_code(SHARED_MEMBER),
        SHARED_MEMBER.first_name,
        SHARED_MEMBER.last_name,
        SHARED_MEMBER.birth_date,
        is_child=True,
    )
    decisions = {"approve": application_approve, "request_info": application_request_info}
    for number, (key, channel, entered_by, decision, shares_with) in enumerate(APPLICATIONS):
        person = people[key]
        user = users.get(entered_by) if entered_by else None
        application = application_submit(
            initiative=initiative,
            data=ApplicantData(
                fiscal_code=person_fiscal_code(person),
                first_name=person.first_name,
                last_name=person.last_name,
                birth_date=person.birth_date,
                sex="F" if person.female else "M",
                municipality=orgs[person.municipality],
                email=person.email,
                phone=person.phone,
                street=f"Via dei Mille {number + 1}",
                postal_code="24121" if person.municipality == "bergamo" else "24068",
                isee=f"{4200 + number * 950}.00",
                dsu_protocol=f"INPS-ISEE-2026-{number + 1:08d}",
                members=[child] if key == "mazzoleni" or shares_with else [],
            ),
            channel=channel,
            entered_by=user,
            tutor=user if channel == "tutor" else None,
            now=timezone.make_aware(datetime.combine(today - timedelta(days=1), time(10, number))),
        )
        if decision is not None:
            action, reason = decision
            decisions[action](application=application, reason=reason, by=users["convalida"])
    return len(APPLICATIONS)


def _key_of(beneficiaries: dict[str, Beneficiary], voucher: Voucher) -> str:
    return next(key for key, b in beneficiaries.items() if b.pk == voucher.beneficiary_id)
