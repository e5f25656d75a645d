"""Demo data for ``manage.py seed_demo``: a programme with vouchers in every state.

Everything goes through the services (contributions, budgets, issuing, redemptions, expiry,
revocation, device keys), so the ledger is the one real use would leave. The data is fixed in
the tables below; dates are relative to the day of the first run. Voucher codes and device keys
are derived from ``settings.SECRET_KEY``: on one installation they are the same every time, and
a second run, which finds the agency already there, creates nothing and can still print them.
"""

import base64
import hashlib
import hmac
import struct
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from schwifty import IBAN
from stdnum import luhn
from stdnum.it import codicefiscale

from core.models import Contribution, Fund, Organization, Role
from core.roles import membership_grant
from core.services import contribution_record
from merchants.models import DeviceKey, Merchant, MerchantStaff, hash_device_key
from merchants.selectors import merchant_in_circuit
from merchants.services.accreditation import merchant_set_status
from merchants.services.devices import device_key_create
from merchants.services.redemption import voucher_redeem
from merchants.services.tills import Till
from vouchers.access import ACCESS_CODE_LENGTH, access_code_issue
from vouchers.codes import ALPHABET, CODE_LENGTH, group_code
from vouchers.funding import attribution_refresh_all, initiative_funding_assign
from vouchers.models import Beneficiary, Expense, Initiative, SpendingCategory, Voucher
from vouchers.programme import (
    ApplicantData,
    MemberData,
    application_approve,
    application_request_info,
    application_submit,
    initiative_close,
    initiative_issue,
    initiative_publish,
    initiative_rank,
)
from vouchers.reimbursements import (
    ExpenseData,
    claim_decide,
    expense_review,
    reimbursement_claim_submit,
)
from vouchers.services import (
    voucher_expire,
    voucher_issue_bulk,
    voucher_revoke,
)

AGENCY_NAME = "Agenzia Welfare Insieme"
FUND_NAME = "Fondo welfare di comunità Bergamo-Seriate"

# ISTAT codes: Bergamo 016024, Seriate 016198 (ISTAT's list of municipalities).
MUNICIPALITIES = {
    "bergamo": ("Comune di Bergamo", "016024", "protocollo@comune.bergamo.example.org"),
    "seriate": ("Comune di Seriate", "016198", "protocollo@comune.seriate.example.org"),
}

FUNDERS = {
    "regione": (
        "Regione Lombardia",
        Organization.FunderKind.REGIONAL,
        "20000.00",
        "Decreto regionale di riparto (esempio dimostrativo)",
        90,
    ),
    "fondazione": (
        "Fondazione della Comunità Bergamasca",
        Organization.FunderKind.FOUNDATION,
        "10000.00",
        "Delibera del consiglio di amministrazione (esempio dimostrativo)",
        60,
    ),
}

THIRD_SECTOR_NAME = "Cooperativa sociale Il Sentiero"

CATEGORIES = {
    "alimentari": "Alimentari",
    "farmacia": "Farmacia e parafarmacia",
    "igiene-casa": "Igiene personale e della casa",
    "cartoleria": "Cartoleria e libri scolastici",
    "abbigliamento": "Abbigliamento",
}

# Codici catastali of the birthplaces used below.
BERGAMO, SERIATE, MILANO, BRESCIA = "A794", "I628", "F205", "B157"
NAPOLI, PALERMO, TORINO, ROMA = "F839", "G273", "L219", "H501"


@dataclass(frozen=True)
class Person:
    key: str
    first_name: str
    last_name: str
    female: bool
    birth_date: date
    birthplace: str
    municipality: str
    email: str
    phone: str


def _person(
    name: str, sex: str, born: str, birthplace: str, municipality: str, *, email=False, phone=""
) -> Person:
    first_name, last_name = name.split(" ", 1)
    return Person(
        key=last_name.lower(),
        first_name=first_name,
        last_name=last_name,
        female=sex == "F",
        birth_date=date.fromisoformat(born),
        birthplace=birthplace,
        municipality=municipality,
        email=f"{first_name}.{last_name}@example.org".lower() if email else "",
        phone=f"+39 {phone}" if phone else "",
    )


BENEFICIARIES = [
    _person(
        "Marco Locatelli", "M", "1979-04-18", BERGAMO, "bergamo", email=True, phone="347 1204581"
    ),
    _person("Giulia Rota", "F", "1986-09-03", BERGAMO, "bergamo", email=True),
    _person("Giuseppe Bonfanti", "M", "1948-02-11", BERGAMO, "bergamo", phone="035 4102233"),
    _person("Maria Pesenti", "F", "1945-12-24", BERGAMO, "bergamo", phone="035 2719045"),
    _person(
        "Francesca Gritti", "F", "1991-06-30", MILANO, "bergamo", email=True, phone="333 8041172"
    ),
    _person("Luca Carminati", "M", "1983-01-15", BERGAMO, "bergamo"),
    _person("Anna Mazzoleni", "F", "1952-07-07", BERGAMO, "bergamo", phone="340 5560198"),
    _person("Salvatore Esposito", "M", "1975-10-21", NAPOLI, "bergamo", phone="328 7743310"),
    _person("Elena Ghisleni", "F", "1998-03-09", BERGAMO, "bergamo", email=True),
    _person("Angelo Cortinovis", "M", "1950-05-28", BERGAMO, "bergamo"),
    _person("Rosa Belotti", "F", "1968-11-02", BRESCIA, "bergamo", email=True),
    _person("Alessandro Moretti", "M", "1974-08-29", ROMA, "bergamo", email=True),
    _person("Paolo Brembilla", "M", "1977-08-14", SERIATE, "seriate", email=True),
    _person(
        "Chiara Previtali", "F", "1989-02-27", SERIATE, "seriate", email=True, phone="349 2186604"
    ),
    _person("Stefano Zanchi", "M", "1971-12-05", BERGAMO, "seriate", phone="338 6402257"),
    _person("Laura Signorelli", "F", "1984-04-01", SERIATE, "seriate", email=True),
    _person("Davide Pellegrini", "M", "1993-09-19", MILANO, "seriate"),
    _person("Silvia Bonomi", "F", "1980-06-12", SERIATE, "seriate", phone="345 9027713"),
    _person("Giovanni Lorenzi", "M", "1958-01-30", PALERMO, "seriate", phone="035 2948810"),
    _person("Martina Facchinetti", "F", "1995-10-08", SERIATE, "seriate", email=True),
    _person("Roberto Agazzi", "M", "1966-03-22", BERGAMO, "seriate"),
    _person("Federica Bertocchi", "F", "1987-05-16", TORINO, "seriate", email=True),
]

# The beneficiary who can log in to the app.
BENEFICIARY_LOGIN = ("beneficiario", "locatelli")


@dataclass(frozen=True)
class Call:
    key: str
    title: str
    description: str
    municipalities: tuple[str, ...]
    categories: tuple[str, ...]
    face_value: str
    partial_allowed: bool
    starts_in: int  # days from today
    ends_in: int
    budget: str
    holders: tuple[str, ...] = ()
    quantity: int = 1
    published: bool = False  # a call still open to applications, with no vouchers yet


CALLS = [
    # The joint call of both municipalities: €100 spendable in several purchases.
    Call(
        key="spesa",
        title="Buoni spesa solidali — Ambito Bergamo-Seriate",
        description=(
            "Un buono da 100 euro per famiglia, spendibile in più volte nei negozi del circuito "
            "di Bergamo e Seriate per alimentari, farmacia e prodotti per la casa."
        ),
        municipalities=("bergamo", "seriate"),
        categories=("alimentari", "farmacia", "igiene-casa"),
        face_value="100.00",
        partial_allowed=True,
        starts_in=-30,
        ends_in=150,
        budget="2500.00",
        holders=tuple(
            "locatelli rota gritti carminati esposito ghisleni moretti "
            "brembilla previtali zanchi signorelli pellegrini bonomi lorenzi".split()
        ),
    ),
    # Fixed €25 buoni, four each, each spent whole.
    Call(
        key="farmacia",
        title="Buoni farmacia per anziani — Comune di Bergamo",
        description=(
            "Quattro buoni da 25 euro a persona, ciascuno da spendere tutto in una volta "
            "in farmacia."
        ),
        municipalities=("bergamo",),
        categories=("farmacia",),
        face_value="25.00",
        partial_allowed=False,
        starts_in=-15,
        ends_in=165,
        budget="800.00",
        holders=("locatelli", "bonfanti", "pesenti", "mazzoleni", "cortinovis"),
        quantity=4,
    ),
    # Its validity window is over: its vouchers are expired.
    Call(
        key="scuola",
        title="Dote scuola — materiale scolastico",
        description="Il bando dell'anno scolastico passato: i buoni non spesi sono scaduti.",
        municipalities=("seriate",),
        categories=("cartoleria",),
        face_value="50.00",
        partial_allowed=True,
        starts_in=-200,
        ends_in=-20,
        budget="300.00",
        holders=("facchinetti", "agazzi", "bertocchi"),
    ),
    # Issued already, spendable only from a future date.
    Call(
        key="libri",
        title="Libri di testo per il nuovo anno scolastico",
        description=(
            "Buoni già assegnati, spendibili in cartoleria dall'inizio dell'anno scolastico."
        ),
        municipalities=("bergamo", "seriate"),
        categories=("cartoleria",),
        face_value="150.00",
        partial_allowed=True,
        starts_in=60,
        ends_in=240,
        budget="1500.00",
        holders=("belotti", "moretti", "facchinetti"),
    ),
    # Published and open to applications, for the public page.
    Call(
        key="inverno",
        title="Buoni spesa per l'inverno",
        description="Domande aperte: un buono da 80 euro per famiglia, per la spesa d'inverno.",
        municipalities=("bergamo", "seriate"),
        categories=("alimentari", "igiene-casa"),
        face_value="80.00",
        partial_allowed=True,
        starts_in=90,
        ends_in=270,
        budget="2000.00",
        published=True,
    ),
]

# (call, holder, which of the holder's vouchers, shop, amount or None for the whole, by device)
REDEMPTIONS = [
    ("spesa", "locatelli", 0, "alimentari", "32.40", False),
    ("spesa", "gritti", 0, "farmacia", "12.50", True),
    ("spesa", "previtali", 0, "alimentari", "45.00", False),
    ("spesa", "previtali", 0, "farmacia", "20.30", False),
    ("spesa", "pellegrini", 0, "minimarket", "20.00", False),
    ("spesa", "esposito", 0, "alimentari", "60.00", False),
    ("spesa", "esposito", 0, "farmacia", "40.00", True),
    ("spesa", "zanchi", 0, "alimentari", "100.00", False),
    ("spesa", "bonomi", 0, "alimentari", "15.60", False),
    ("farmacia", "locatelli", 0, "farmacia", None, False),
    ("farmacia", "bonfanti", 0, "farmacia", None, True),
    ("farmacia", "bonfanti", 1, "farmacia", None, False),
    ("farmacia", "mazzoleni", 0, "farmacia", None, False),
]

REVOCATIONS = [
    ("spesa", "ghisleni", 0, "Trasferimento della residenza fuori dall'ambito"),
    ("spesa", "bonomi", 0, "Requisiti ISEE non confermati dai controlli"),
]

EXPIRED_CALLS = ("scuola",)


@dataclass(frozen=True)
class Login:
    username: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class Shop:
    key: str
    name: str
    legal_name: str
    company_number: str  # the first 7 digits of the partita IVA; 016 (Bergamo) and the check follow
    bank_code: str  # ABI + CAB
    account: str
    street: str
    postal_code: str
    town: str
    categories: tuple[str, ...]
    municipalities: tuple[str, ...]
    status: str
    owner: Login
    cashier: Login | None = None
    reason: str = ""


MERCHANTS = [
    Shop(
        key="alimentari",
        name="Alimentari Da Gino",
        legal_name="Da Gino di Gino Cattaneo",
        company_number="0284531",
        bank_code="0503411101",
        account="000000004821",
        street="Corso Roma 18",
        postal_code="24068",
        town="Seriate",
        categories=("alimentari", "igiene-casa"),
        municipalities=("seriate",),
        status=Merchant.Status.ACCREDITED,
        owner=Login("titolare.gino", "Gino", "Cattaneo"),
        cashier=Login("cassa.gino", "Ilaria", "Cattaneo"),
    ),
    Shop(
        key="farmacia",
        name="Farmacia del Borgo",
        legal_name="Farmacia del Borgo S.n.c.",
        company_number="0319876",
        bank_code="0306911100",
        account="000000017733",
        street="Via Borgo Palazzo 120",
        postal_code="24125",
        town="Bergamo",
        categories=("farmacia", "igiene-casa"),
        municipalities=("bergamo", "seriate"),
        status=Merchant.Status.ACCREDITED,
        owner=Login("titolare.farmacia", "Alberto", "Sonzogni"),
        cashier=Login("cassa.farmacia", "Valentina", "Arnoldi"),
    ),
    # Accredited, but it sells what no call pays for: outside every circuit.
    Shop(
        key="boutique",
        name="Boutique Mariani",
        legal_name="Mariani Abbigliamento S.r.l.",
        company_number="0342210",
        bank_code="0200811100",
        account="000000052190",
        street="Via XX Settembre 61",
        postal_code="24122",
        town="Bergamo",
        categories=("abbigliamento",),
        municipalities=("bergamo",),
        status=Merchant.Status.ACCREDITED,
        owner=Login("titolare.mariani", "Carla", "Mariani"),
        cashier=Login("cassa.mariani", "Simone", "Gamba"),
    ),
    # In the circuit until its suspension; it took one voucher before.
    Shop(
        key="minimarket",
        name="Minimarket Stazione",
        legal_name="Minimarket Stazione di Luigi Testa",
        company_number="0357764",
        bank_code="0889911100",
        account="000000008812",
        street="Piazzale Marconi 3",
        postal_code="24122",
        town="Bergamo",
        categories=("alimentari",),
        municipalities=("bergamo",),
        status=Merchant.Status.SUSPENDED,
        owner=Login("titolare.minimarket", "Luigi", "Testa"),
        cashier=Login("cassa.minimarket", "Omar", "Testa"),
        reason="Verifica in corso: scontrini non corrispondenti agli utilizzi",
    ),
    Shop(
        key="cartoleria",
        name="Cartoleria Il Quaderno",
        legal_name="Il Quaderno di Monica Ferrari",
        company_number="0366120",
        bank_code="0503411101",
        account="000000033107",
        street="Via Italia 24",
        postal_code="24068",
        town="Seriate",
        categories=("cartoleria",),
        municipalities=("seriate",),
        status=Merchant.Status.REQUESTED,
        owner=Login("titolare.quaderno", "Monica", "Ferrari"),
    ),
    Shop(
        key="tabaccheria",
        name="Bar Tabacchi Centrale",
        legal_name="Bar Centrale di Fabio Ruggeri",
        company_number="0371459",
        bank_code="0306911100",
        account="000000061324",
        street="Via Tasso 12",
        postal_code="24121",
        town="Bergamo",
        categories=(),
        municipalities=("bergamo",),
        status=Merchant.Status.REJECTED,
        owner=Login("titolare.tabacchi", "Fabio", "Ruggeri"),
        reason="Attività prevalente non ammessa dai bandi: tabacchi e giochi",
    ),
]


@dataclass(frozen=True)
class Staff:
    username: str
    first_name: str
    last_name: str
    role: str  # a core.models.Role, or SUPERUSER
    organization: str  # "agency", a municipality, a funder key or "third_sector"


SUPERUSER = "superuser"
BENEFICIARY = "beneficiary"
MERCHANT_OWNER = "merchant_owner"
CASHIER = "cashier"

STAFF = [
    Staff("admin", "Amministratore", "Demo", SUPERUSER, ""),
    Staff("agenzia", "Roberta", "Colombo", Role.AGENCY_ADMIN, "agency"),
    Staff("responsabile", "Paola", "Invernizzi", Role.PROGRAMME_MANAGER, "bergamo"),
    Staff("sportello", "Giorgio", "Valsecchi", Role.DESK_OPERATOR, "bergamo"),
    Staff("sportello.seriate", "Sara", "Pagnoncelli", Role.DESK_OPERATOR, "seriate"),
    Staff("convalida", "Enrico", "Ravasio", Role.VALIDATOR, "bergamo"),
    Staff("tutor", "Lucia", "Vitali", Role.TUTOR, "third_sector"),
    Staff("fondo", "Andrea", "Bonacina", Role.FUND_MANAGER, "agency"),
    Staff("finanziatore", "Cristina", "Milesi", Role.FUNDER, "fondazione"),
]

STATES = ("active", "partly_spent", "exhausted", "expired", "not_yet_valid", "revoked")


class DemoConflict(Exception):
    """Rows the demo would create already exist with other data (usernames, codes, VAT)."""


# Derived values: codes, keys, passwords, fiscal codes ---------------------------------------


def _derive(label: str) -> bytes:
    return hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).digest()


def demo_voucher_code(number: int) -> str:
    """Return the ``number``-th demo voucher code: 100 bits of HMAC in Crockford base32."""
    bits = 5 * CODE_LENGTH
    value = int.from_bytes(_derive(f"demo:voucher:{number}"), "big") >> (256 - bits)
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(bits - 5, -1, -5))


def demo_device_key(number: int) -> str:
    """Return the raw device key of the ``number``-th demo shop."""
    digest = _derive(f"demo:device:{number}")
    return "bc_" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def demo_access_code() -> str:
    """Return the printed access code of the beneficiary who logs in to the app."""
    value = int.from_bytes(_derive("demo:access-code"), "big")
    code = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(ACCESS_CODE_LENGTH))
    return group_code(code, size=4)


def demo_password(username: str) -> str:
    return f"demo-{username}"


def demo_voucher_total() -> int:
    return sum(len(call.holders) * call.quantity for call in CALLS)


def demo_voucher_codes() -> list[str]:
    """Every demo code, in the order they are issued."""
    return [demo_voucher_code(n) for n in range(demo_voucher_total())]


def _letters(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.upper() if "A" <= ch <= "Z")


def _name_code(text: str, *, first_name: bool) -> str:
    letters = _letters(text)
    consonants = [ch for ch in letters if ch not in "AEIOU"]
    vowels = [ch for ch in letters if ch in "AEIOU"]
    if first_name and len(consonants) >= 4:
        return consonants[0] + consonants[2] + consonants[3]
    return "".join(consonants + vowels + ["X", "X", "X"])[:3]


def fiscal_code(
    *, first_name: str, last_name: str, female: bool, birth_date: date, birthplace: str
) -> str:
    """Return the codice fiscale of a person (without omocodia), with its check letter."""
    body = (
        _name_code(last_name, first_name=False)
        + _name_code(first_name, first_name=True)
        + f"{birth_date.year % 100:02d}"
        + "ABCDEHLMPRST"[birth_date.month - 1]
        + f"{birth_date.day + (40 if female else 0):02d}"
        + birthplace
    )
    return body + codicefiscale.calc_check_digit(body)


def person_fiscal_code(person: Person) -> str:
    return fiscal_code(
        first_name=person.first_name,
        last_name=person.last_name,
        female=person.female,
        birth_date=person.birth_date,
        birthplace=person.birthplace,
    )


def shop_vat_number(shop: Shop) -> str:
    body = f"{shop.company_number}016"
    return body + luhn.calc_check_digit(body)


def shop_iban(shop: Shop) -> str:
    return IBAN.generate("IT", bank_code=shop.bank_code, account_code=shop.account).compact


# Building ----------------------------------------------------------------------------------


def demo_present() -> bool:
    return Organization.objects.filter(kind=Organization.Kind.AGENCY, name=AGENCY_NAME).exists()


def _all_usernames() -> list[str]:
    names = [staff.username for staff in STAFF] + [BENEFICIARY_LOGIN[0]]
    for shop in MERCHANTS:
        names.append(shop.owner.username)
        if shop.cashier:
            names.append(shop.cashier.username)
    return names


def _check_conflicts() -> None:
    taken = list(
        get_user_model()
        .objects.filter(username__in=_all_usernames())
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


def _organization(kind: str, name: str, **fields) -> Organization:
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
    username: str, first_name: str, last_name: str, *, is_staff=False, is_superuser=False, email=""
):
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
    context = _existing_context()
    if context is None:
        return None
    calls, applications = _transfer_calls(context, today)
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
    for call in CALLS:
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
        for key, amount in (("regione", regional), ("fondazione", budget - regional)):
            initiative_funding_assign(
                initiative=initiative,
                contribution=contributions[key],
                amount=amount,
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
    summary.calls = len(CALLS)

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

    for number, (call_key, holder_key, index, shop_key, amount, by_device) in enumerate(
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
            code=vouchers[(call_key, holder_key)][index].code,
            amount=amount,
            idempotency_key=f"demo-redemption-{number}",
        )
    for call_key, holder_key, index, reason in REVOCATIONS:
        voucher_revoke(
            voucher=vouchers[(call_key, holder_key)][index], reason=reason, revoked_by=manager
        )
    for (call_key, _holder_key), issued in vouchers.items():
        if call_key in EXPIRED_CALLS:
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
    calls, applications = _transfer_calls(context, today)
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


def _applications(initiative: Initiative, users: dict, orgs: dict, today: date) -> int:
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


# Calls paid by transfer: a reimbursement call and a cash-contribution call ------------------


@dataclass(frozen=True)
class TransferCall:
    key: str
    title: str
    description: str
    benefit_kind: str
    categories: tuple[str, ...]
    amount: str  # granted to each funded application
    budget: str
    starts_in: int  # validity, in days from today
    ends_in: int
    applicants: tuple[tuple[str, str | None], ...]  # (person, desk operator or None if online)


TRANSFER_CALLS = [
    # Approved applications, one claim to review and one decided, waiting for the payment.
    TransferCall(
        key="rimborso",
        title="Rimborso spese scolastiche",
        description=(
            "Rimborso fino a 200 euro per famiglia delle spese per libri, quaderni e materiale "
            "scolastico, con gli scontrini o le fatture."
        ),
        benefit_kind=Initiative.BenefitKind.REIMBURSEMENT,
        categories=("cartoleria",),
        amount="200.00",
        budget="1200.00",
        starts_in=-60,
        ends_in=120,
        applicants=(("locatelli", "sportello"), ("rota", None), ("carminati", "sportello")),
    ),
    # Contributions granted, for the agency's beneficiary payment batch.
    TransferCall(
        key="affitto",
        title="Contributo affitto",
        description=(
            "Un contributo di 300 euro per l'affitto della casa di residenza, pagato con "
            "bonifico sul conto del richiedente."
        ),
        benefit_kind=Initiative.BenefitKind.CASH_TRANSFER,
        categories=(),
        amount="300.00",
        budget="1000.00",
        starts_in=-30,
        ends_in=150,
        applicants=(("bonfanti", "sportello"), ("esposito", "sportello"), ("belotti", None)),
    ),
]
# The applicants' accounts: a bank's ABI + CAB, and one account each (the first is
# IT60X0542811101000000123456).
APPLICANT_BANK = "0542811101"

# Claims of the reimbursement call: (person, submitted by, expenses, review or None).
# An expense: (amount, days ago, description, receipt "pdf" or "png");
# a review, line by line: (decision, approved amount or None, reason).
CLAIMS = [
    (
        "locatelli",
        BENEFICIARY_LOGIN[0],  # from the app
        [
            ("45.90", 35, "Libri di testo per la seconda media", "pdf"),
            ("38.50", 28, "Zaino e astuccio", "png"),
        ],
        [
            (Expense.Status.APPROVED, None, ""),
            (
                Expense.Status.REDUCED,
                "12.00",
                "Ammesso solo l'astuccio: lo zaino non rientra nel materiale scolastico.",
            ),
        ],
    ),
    (
        "carminati",
        "sportello",
        [
            ("62.00", 12, "Dizionario di italiano", "pdf"),
            ("17.80", 9, "Quaderni e cancelleria", "png"),
        ],
        None,
    ),
]


def applicant_iban(number: int) -> str:
    return IBAN.generate(
        "IT", bank_code=APPLICANT_BANK, account_code=f"{123456 + number:012d}"
    ).compact


def _png_receipt() -> bytes:
    """A valid 1×1 white PNG: the smallest receipt the upload check accepts as an image."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1×1, 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )


def _pdf_receipt(lines: list[str]) -> bytes:
    """A valid one-page PDF with a few lines of text (ASCII), as a shop's receipt."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = "BT /F1 11 Tf 40 160 Td 14 TL " + " ".join(f"({escape(s)}) '" for s in lines) + " ET"
    stream = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _receipt(kind: str, name: str, *, shop: str, amount: str, spent_on: date) -> ContentFile:
    if kind == "png":
        return ContentFile(_png_receipt(), name=f"{name}.png")
    lines = [shop, "Documento commerciale di vendita", f"Data {spent_on:%d/%m/%Y}"]
    lines.append(f"Totale EUR {amount.replace('.', ',')}")
    return ContentFile(_pdf_receipt(lines), name=f"{name}.pdf")


def _transfer_calls(context: dict, today: date) -> tuple[int, int]:
    """Create the calls paid by transfer that are not there yet; return (calls, applications).

    Each goes through its whole life with the services: budget from the two contributions,
    publication, applications with an IBAN (four eyes: the validator approves what the desk
    entered), closing, ranking, issuing (the reimbursement call only confirms the
    entitlements; the cash call grants the contributions, now owed to each person), and for
    the reimbursement call two claims, one decided and one left to the validator.
    """
    fund, orgs, users = context["fund"], context["orgs"], context["users"]
    manager, validator = users["responsabile"], users["convalida"]
    people = {person.key: person for person in BENEFICIARIES}
    calls = applications = 0
    for index, call in enumerate(TRANSFER_CALLS):
        if Initiative.objects.filter(fund=fund, title=call.title).exists():
            continue
        amount = Decimal(call.amount)
        opens = timezone.make_aware(datetime.combine(today - timedelta(days=50), time(9)))
        initiative = Initiative(
            title=call.title,
            description=call.description,
            fund=fund,
            face_value=amount,
            benefit_kind=call.benefit_kind,
            amount_base=amount,
            amount_cap=amount,
            planned_budget=Decimal(call.budget),
            valid_from=today + timedelta(days=call.starts_in),
            valid_until=today + timedelta(days=call.ends_in),
            applications_open_at=opens,
            applications_close_at=opens + timedelta(days=30),
        )
        initiative.full_clean()
        initiative.save()
        initiative.municipalities.set([orgs["bergamo"]])
        initiative.allowed_categories.set([context["categories"][slug] for slug in call.categories])
        budget = Decimal(call.budget)
        regional = (budget * 2 / 3).quantize(Decimal("0.01"))
        for key, share in (("regione", regional), ("fondazione", budget - regional)):
            initiative_funding_assign(
                initiative=initiative,
                contribution=context["contributions"][key],
                amount=share,
                assigned_by=manager,
            )
        initiative = initiative_publish(initiative=initiative)
        submitted = {}
        for number, (key, entered_by) in enumerate(call.applicants):
            person = people[key]
            operator = users[entered_by] if entered_by else None
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
                    street=f"Via Pignolo {10 + number}",
                    postal_code="24121",
                    isee=f"{6100 + number * 1300}.00",
                    dsu_protocol=f"INPS-ISEE-2026-{call.key.upper()}-{number + 1:04d}",
                    iban=applicant_iban(index * 10 + number),
                ),
                channel="desk" if operator else "online",
                entered_by=operator,
                now=opens + timedelta(days=5, hours=number),
            )
            application_approve(
                application=application,
                reason="Requisiti verificati: residenza, ISEE e IBAN intestato al richiedente.",
                by=validator,
            )
            submitted[key] = application
        initiative = initiative_close(initiative=initiative)
        initiative = initiative_rank(initiative=initiative, on=today)
        initiative_issue(initiative=initiative, issued_by=manager)
        if call.benefit_kind == Initiative.BenefitKind.REIMBURSEMENT:
            _claims(initiative, submitted, context, today)
        calls += 1
        applications += len(call.applicants)
    return calls, applications


def _claims(initiative: Initiative, submitted: dict, context: dict, today: date) -> None:
    users = context["users"]
    category = context["categories"]["cartoleria"]
    for key, submitted_by, expenses, review in CLAIMS:
        application = submitted[key]
        application.refresh_from_db()
        claim = reimbursement_claim_submit(
            application=application,
            expenses=[
                ExpenseData(
                    amount=amount,
                    spent_on=today - timedelta(days=days_ago),
                    category=category,
                    receipt=_receipt(
                        kind,
                        f"scontrino-{key}-{number + 1}",
                        shop="Cartoleria Il Quaderno",
                        amount=amount,
                        spent_on=today - timedelta(days=days_ago),
                    ),
                    description=description,
                )
                for number, (amount, days_ago, description, kind) in enumerate(expenses)
            ],
            submitted_by=users[submitted_by],
        )
        if review is None:
            continue
        lines = list(claim.expenses.order_by("spent_on", "pk"))
        for expense, (decision, approved, reason) in zip(lines, review, strict=True):
            expense_review(
                expense=expense,
                decision=decision,
                approved_amount=approved,
                reason=reason,
                reviewed_by=users["convalida"],
            )
        claim_decide(claim=claim, decided_by=users["convalida"])


def _existing_context() -> dict | None:
    """What the calls paid by transfer need, found in a demo built before they existed."""
    fund = Fund.objects.filter(name=FUND_NAME, manager__name=AGENCY_NAME).first()
    if fund is None:
        return None
    orgs = {
        key: Organization.objects.filter(istat_code=istat_code).first()
        for key, (_name, istat_code, _email) in MUNICIPALITIES.items()
    }
    contributions = {
        key: Contribution.objects.filter(fund=fund, funder__name=name).order_by("pk").first()
        for key, (name, *_rest) in FUNDERS.items()
    }
    users = {
        user.username: user
        for user in get_user_model().objects.filter(
            username__in=["responsabile", "convalida", "sportello", BENEFICIARY_LOGIN[0]]
        )
    }
    categories = {c.slug: c for c in SpendingCategory.objects.filter(slug__in=CATEGORIES)}
    if (
        None in orgs.values()
        or None in contributions.values()
        or len(users) < 4
        or len(categories) < len(CATEGORIES)
    ):
        return None
    return {
        "fund": fund,
        "orgs": orgs,
        "contributions": contributions,
        "users": users,
        "categories": categories,
    }


def demo_transfer_calls() -> list[str]:
    """The titles of the demo's calls paid by transfer that exist."""
    return list(
        Initiative.objects.filter(
            fund__name=FUND_NAME,
            fund__manager__name=AGENCY_NAME,
            title__in=[call.title for call in TRANSFER_CALLS],
        )
        .order_by("pk")
        .values_list("title", flat=True)
    )


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


def demo_app_access() -> dict | None:
    """How the demo beneficiary logs in to the app: fiscal code and printed access code."""
    holder = next(p for p in BENEFICIARIES if p.key == BENEFICIARY_LOGIN[1])
    fiscal_code = person_fiscal_code(holder)
    if (
        not Beneficiary.objects.filter(fiscal_code=fiscal_code)
        .exclude(access_code_hash="")
        .exists()
    ):
        return None
    return {
        "name": f"{holder.first_name} {holder.last_name}",
        "fiscal_code": fiscal_code,
        "access_code": demo_access_code(),
        "email": holder.email,
    }


def demo_report(*, today: date | None = None) -> dict:
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
        .objects.filter(username__in=_all_usernames())
        .values_list("username", flat=True)
    )

    def login(username: str, role: str, organization: str) -> dict:
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
