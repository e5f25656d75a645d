"""The demo's calls paid by transfer: a reimbursement call with its claims and receipts, and a
cash-contribution call."""

import struct
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from schwifty import IBAN

from core.models import Contribution, Fund, Organization
from reports.demo.data import (
    AGENCY_NAME,
    BENEFICIARIES,
    BENEFICIARY_LOGIN,
    CATEGORIES,
    FUND_NAME,
    FUNDERS,
    MUNICIPALITIES,
)
from reports.demo.identities import person_fiscal_code
from vouchers.models import Application, Expense, Initiative, SpendingCategory
from vouchers.services.applications import ApplicantData, application_approve, application_submit
from vouchers.services.funding import initiative_funding_assign
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import initiative_issue
from vouchers.services.ranking import initiative_rank
from vouchers.services.reimbursements import (
    ExpenseData,
    claim_decide,
    expense_review,
    reimbursement_claim_submit,
)

# Calls paid by transfer: a reimbursement call and a cash-contribution call ------------------


@dataclass(frozen=True)
class TransferInitiative:
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


TRANSFER_INITIATIVES = [
    # Approved applications, one claim to review and one decided, waiting for the payment.
    TransferInitiative(
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
    TransferInitiative(
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


def _receipt(
    kind: str, name: str, *, shop: str, amount: str, spent_on: date
) -> "ContentFile[bytes]":
    if kind == "png":
        return ContentFile(_png_receipt(), name=f"{name}.png")
    lines = [shop, "Documento commerciale di vendita", f"Data {spent_on:%d/%m/%Y}"]
    lines.append(f"Totale EUR {amount.replace('.', ',')}")
    return ContentFile(_pdf_receipt(lines), name=f"{name}.pdf")


def transfer_initiatives(context: dict[str, Any], today: date) -> tuple[int, int]:
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
    for index, call in enumerate(TRANSFER_INITIATIVES):
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


def _claims(
    initiative: Initiative, submitted: dict[str, Application], context: dict[str, Any], today: date
) -> None:
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
                    # ExpenseData asks for an UploadedFile; checked_upload reads only what a
                    # ContentFile has too (size, seek, read).
                    receipt=_receipt(  # type: ignore[arg-type]
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


def existing_context() -> dict[str, Any] | None:
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


def demo_transfer_initiatives() -> list[str]:
    """The titles of the demo's calls paid by transfer that exist."""
    return list(
        Initiative.objects.filter(
            fund__name=FUND_NAME,
            fund__manager__name=AGENCY_NAME,
            title__in=[call.title for call in TRANSFER_INITIATIVES],
        )
        .order_by("pk")
        .values_list("title", flat=True)
    )
