"""Test data builders: each returns saved rows with sensible defaults."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone
from stdnum import luhn
from stdnum.it import codicefiscale

from core.models import Fund, Organization
from core.services.funding import _contribution_record as contribution_record
from merchants.models import Merchant, MerchantStaff
from merchants.services.devices import device_key_create
from merchants.services.tills import Till
from vouchers.models import Beneficiary, Initiative, SpendingCategory, Voucher
from vouchers.services.budget import initiative_assign_budget
from vouchers.services.issuing import voucher_issue_bulk

_sequence = itertools.count(1)
VALID_IBAN = "IT60X0542811101000000123456"


def next_id() -> int:
    return next(_sequence)


def user(*, username: str | None = None, password: str = "password", **extra):
    username = username or f"user{next_id()}"
    return get_user_model().objects.create_user(username=username, password=password, **extra)


def municipality(*, name: str | None = None, istat_code: str | None = None) -> Organization:
    n = next_id()
    return Organization.objects.create(
        kind=Organization.Kind.MUNICIPALITY,
        name=name or f"Comune {n}",
        istat_code=istat_code or f"{(n * 7919) % 1_000_000:06d}",
    )


def funder(*, name: str | None = None) -> Organization:
    return Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name=name or f"Fondazione {next_id()}",
        funder_kind=Organization.FunderKind.FOUNDATION,
    )


def fund(*, amount: Decimal | str = "100000.00", manager: Organization | None = None) -> Fund:
    manager = manager or Organization.objects.create(
        kind=Organization.Kind.AGENCY, name=f"Agenzia {next_id()}"
    )
    new_fund = Fund.objects.create(name=f"Fondo {next_id()}", manager=manager)
    if Decimal(amount) > 0:
        contribution_record(
            fund=new_fund, funder=funder(), amount=amount, received_on=timezone.localdate()
        )
    return new_fund


def category(*, slug: str | None = None) -> SpendingCategory:
    slug = slug or f"cat-{next_id()}"
    return SpendingCategory.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]


def initiative(
    *,
    municipalities: list[Organization] | None = None,
    categories: list[SpendingCategory] | None = None,
    face_value: Decimal | str = "100.00",
    partial_allowed: bool = True,
    valid_from: date | None = None,
    valid_until: date | None = None,
    budget: Decimal | str | None = "10000.00",
    status: str = Initiative.Status.PUBLISHED,
) -> Initiative:
    today = timezone.localdate()
    new = Initiative.objects.create(
        title=f"Bando {next_id()}",
        fund=fund(amount=Decimal(budget or 0) + Decimal("1000.00")),
        face_value=Decimal(face_value),
        partial_allowed=partial_allowed,
        valid_from=valid_from or today - timedelta(days=30),
        valid_until=valid_until or today + timedelta(days=60),
        status=status,
    )
    new.municipalities.set(municipalities or [municipality()])
    new.allowed_categories.set(categories or [category(slug="alimentari")])
    if budget:
        initiative_assign_budget(initiative=new, amount=budget)
    return new


def beneficiary(*, municipality: Organization | None = None, **extra) -> Beneficiary:
    n = next_id()
    body = f"RSS{chr(65 + n % 26)}{chr(65 + (n // 26) % 26)}{chr(65 + (n // 676) % 26)}80A01H501"
    return Beneficiary.objects.create(
        fiscal_code=extra.pop("fiscal_code", None) or body + codicefiscale.calc_check_digit(body),
        first_name=extra.pop("first_name", "Mario"),
        last_name=extra.pop("last_name", f"Rossi{n}"),
        municipality=municipality or globals()["municipality"](),
        **extra,
    )


def voucher(*, initiative: Initiative | None = None, holder: Beneficiary | None = None) -> Voucher:
    initiative = initiative or globals()["initiative"]()
    holder = holder or beneficiary(municipality=initiative.municipalities.first())
    return voucher_issue_bulk(initiative=initiative, beneficiaries=[holder])[0]


def vat_number() -> str:
    # Seven digits of company number, then a valid tax office code (001).
    body = f"{next_id() % 10_000_000:07d}001"
    return body + luhn.calc_check_digit(body)


def merchant(
    *,
    initiative: Initiative | None = None,
    status: str = Merchant.Status.ACCREDITED,
    categories: list[SpendingCategory] | None = None,
    municipalities: list[Organization] | None = None,
) -> Merchant:
    """A shop; by default in the circuit of ``initiative`` when one is given."""
    shop = Merchant.objects.create(
        name=f"Negozio {next_id()}",
        vat_number=vat_number(),
        iban=VALID_IBAN,
        street="Via Roma 1",
        postal_code="00100",
        town="Roma",
        status=status,
    )
    if categories is None:
        categories = list(initiative.allowed_categories.all()) if initiative else [category()]
    if municipalities is None:
        municipalities = list(initiative.municipalities.all()) if initiative else [municipality()]
    shop.categories.set(categories)
    shop.municipalities.set(municipalities)
    return shop


def cashier(*, shop: Merchant, role: str = MerchantStaff.Role.CASHIER, password: str = "password"):
    person = user(password=password)
    MerchantStaff.objects.create(user=person, merchant=shop, role=role)
    return person


def till(*, shop: Merchant, person=None) -> Till:
    return Till(merchant=shop, user=person)


def device_key(*, shop: Merchant) -> str:
    return device_key_create(merchant=shop, name="Cassa 1")[1]
