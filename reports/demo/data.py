"""The demo's fixed data: organisations, people, calls, shops and staff (the values derived
from them, codes, keys, passwords and fiscal codes, are in ``reports.demo.identities``)."""

from dataclasses import dataclass
from datetime import date

from core.models import Organization, Role
from merchants.models import Merchant

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
    name: str,
    sex: str,
    born: str,
    birthplace: str,
    municipality: str,
    *,
    email: bool = False,
    phone: str = "",
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
class DemoInitiative:
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


INITIATIVES = [
    # The joint call of both municipalities: €100 spendable in several purchases.
    DemoInitiative(
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
    DemoInitiative(
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
    DemoInitiative(
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
    DemoInitiative(
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
    DemoInitiative(
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

EXPIRED_INITIATIVES = ("scuola",)


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
