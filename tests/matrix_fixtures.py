"""Two tenants, each with one row of everything and a user for every role, for the matrix.

Tenant A is "Alfa" and tenant B is "Bravo": every row of B that is not public carries the
word ``Bravo`` (surnames, shop names, fund names, documents, expenses, till keys), so a page
shown to a user of A that contains it has leaked B's data. What anyone may read on the public
pages (the municipality's name, published calls, funders) does not carry it.
"""

import itertools
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import Account, Contribution, Fund, Organization, Role
from core.roles import membership_grant
from merchants.errors import RedemptionError
from merchants.models import DeviceKey, Merchant, MerchantStaff, RefusedAttempt
from merchants.services.devices import device_key_create
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlement_create
from merchants.services.tills import Till, refused_attempt_record
from tests import factories
from tests.vouchers.test_programme import fiscal_code
from vouchers.models import Application, ArchiveExport, Initiative, InitiativeFunding
from vouchers.services.access import beneficiary_user
from vouchers.services.applications import (
    ApplicantData,
    application_approve,
    application_document_add,
    application_submit,
)
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import initiative_issue, issuance_run_start
from vouchers.services.notifications import initiative_notify_outcomes
from vouchers.services.ranking import initiative_rank
from vouchers.services.reimbursements import ExpenseData, reimbursement_claim_submit

# Roles of people, beyond the staff roles of ``core.models.Role``.
SUPERUSER = "superuser"
MERCHANT_OWNER = "merchant_owner"
CASHIER = "cashier"
BENEFICIARY = "beneficiary"

MARKER = {"A": "Alfa", "B": "Bravo"}
PDF = b"%PDF-1.4\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
_keys = itertools.count(1)
_people = itertools.count(700)  # fiscal codes apart from those other test modules draw


def applicant(town: Organization, surname: str, **extra) -> ApplicantData:
    code, birth, sex = fiscal_code(next(_people))
    return ApplicantData(
        fiscal_code=code,
        first_name="Anna",
        last_name=surname,
        birth_date=birth,
        sex=sex,
        municipality=town,
        isee="5000.00",
        **extra,
    )


@dataclass
class Tenant:
    """One municipality with its rows (by model label) and its people (by role)."""

    name: str
    municipality: Organization
    rows: dict[str, object] = field(default_factory=dict)
    users: dict[str, object] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        return MARKER[self.name]


@dataclass
class World:
    a: Tenant
    b: Tenant
    users: dict[str, object]  # people who belong to no tenant: the agency, the superuser
    shared: dict[str, object]

    def user(self, role: str, tenant: str = "A"):
        if role in self.users:
            return self.users[role]
        people = (self.a if tenant == "A" else self.b).users
        if role not in people:
            raise LookupError(f"nobody has the role {role}: add one in tenant_build()")
        return people[role]


def _staff(role: str, organization: Organization, username: str):
    person = factories.user(username=username)
    membership_grant(user=person, organization=organization, role=role)
    return person


def _redeem(voucher, shop, person, amount: str):
    return voucher_redeem(
        till=Till(merchant=shop, user=person),
        code=voucher.code,
        amount=amount,
        idempotency_key=f"matrix-{next(_keys)}",
    ).redemption


def _open_call(town: Organization, tag: str, **overrides) -> Initiative:
    initiative = factories.initiative(
        municipalities=[town], status=Initiative.Status.DRAFT, budget="1000.00"
    )
    initiative.title = f"Bando {tag} {initiative.pk}"
    initiative.applications_open_at = timezone.now() - timedelta(days=1)
    initiative.applications_close_at = timezone.now() + timedelta(days=10)
    initiative.amount_rule = Initiative.AmountRule.FIXED
    initiative.amount_base = 100
    for key, value in overrides.items():
        setattr(initiative, key, value)
    initiative.save()
    return initiative_publish(initiative=initiative)


def tenant_build(name: str, *, agency_user) -> Tenant:
    tag = MARKER[name]
    town = factories.municipality(name=f"Comune {name}")
    tenant = Tenant(name=name, municipality=town)
    slug = tag.lower()

    # Staff of the municipality, a tutor of a third-sector body, a funder.
    users = tenant.users
    for role in [Role.PROGRAMME_MANAGER, Role.DESK_OPERATOR, Role.VALIDATOR, Role.FUND_MANAGER]:
        users[role] = _staff(role, town, f"{role}-{slug}")
    charity = Organization.objects.create(
        kind=Organization.Kind.THIRD_SECTOR, name=f"Caritas {name}"
    )
    users[Role.TUTOR] = _staff(Role.TUTOR, charity, f"tutor-{slug}")
    funder = Organization.objects.create(
        kind=Organization.Kind.FUNDER,
        name=f"Fondazione {name}",
        funder_kind=Organization.FunderKind.FOUNDATION,
    )
    users[Role.FUNDER] = _staff(Role.FUNDER, funder, f"funder-{slug}")

    # A voucher call: applications, a decision, a ranking, vouchers, letters, an issuing run.
    call = _open_call(town, name)
    Fund.objects.filter(pk=call.fund_id).update(name=f"Fondo {tag}", manager=town)
    contribution = Contribution.objects.filter(fund_id=call.fund_id).first()
    Organization.objects.filter(pk=contribution.funder_id).update(name=f"Fondazione {name} (fondo)")
    funded = application_submit(
        initiative=call,
        data=applicant(town, f"Bianchi {tag}"),
        channel=Application.Channel.DESK,
        entered_by=users[Role.DESK_OPERATOR],
    )
    application_approve(application=funded, reason="ok", by=users[Role.VALIDATOR])
    open_call = _open_call(town, f"{name} aperto")
    waiting = application_submit(
        initiative=open_call,
        data=applicant(town, f"Neri {tag}"),
        channel=Application.Channel.TUTOR,
        tutor=users[Role.TUTOR],
    )
    document = application_document_add(
        application=waiting,
        uploaded=SimpleUploadedFile("isee.pdf", PDF, content_type="application/pdf"),
        title=f"ISEE {tag}",
    )
    initiative_close(initiative=call)
    initiative_rank(initiative=call)
    initiative_issue(initiative=call)
    initiative_notify_outcomes(initiative=call)
    run = issuance_run_start(initiative=call, started_by=users[Role.PROGRAMME_MANAGER])
    # A prepared archive of the call (its content does not matter here: who may open it does).
    archive = ArchiveExport(
        initiative=call,
        requested_by=users[Role.PROGRAMME_MANAGER],
        status=ArchiveExport.Status.DONE,
        size=len(b"PK"),
        expires_at=timezone.now() + timedelta(days=7),
    )
    archive.file.save(f"{name}.zip", ContentFile(b"PK"), save=False)
    archive.save()
    voucher = funded.vouchers.get()
    holder = funded.applicant
    users[BENEFICIARY] = beneficiary_user(beneficiary=holder)

    # A shop of the municipality, its owner and cashier, a till key, redemptions.
    shop = factories.merchant(initiative=call, municipalities=[town])
    Merchant.objects.filter(pk=shop.pk).update(name=f"Negozio {tag}", legal_name=f"{tag} srl")
    shop.refresh_from_db()
    users[MERCHANT_OWNER] = factories.cashier(shop=shop, role=MerchantStaff.Role.OWNER)
    users[CASHIER] = factories.cashier(shop=shop)
    raw_key = device_key_create(merchant=shop, name=f"Cassa {tag}", created_by=agency_user)[1]
    settled = _redeem(voucher, shop, users[CASHIER], "10.00")
    settlement = settlement_create(merchant=shop)
    batch = merchant_payment_batch_prepare(settlements=[settlement], prepared_by=agency_user)
    redemption = _redeem(voucher, shop, users[CASHIER], "5.00")
    refusal = RedemptionError("voucher_expired")
    refusal.voucher = voucher
    refused_attempt_record(
        till=Till(merchant=shop, user=users[CASHIER]),
        action=RefusedAttempt.Action.REDEEM,
        error=refusal,
        code=voucher.code,
        amount="3.00",
        ip_address="127.0.0.1",
    )
    refused = RefusedAttempt.objects.filter(merchant=shop).latest("pk")

    # A reimbursement call with a funded application and a claim with its receipt.
    refunds = _open_call(
        town, f"{name} rimborsi", benefit_kind=Initiative.BenefitKind.REIMBURSEMENT
    )
    claimant = application_submit(
        initiative=refunds,
        data=applicant(town, f"Gialli {tag}", iban=factories.VALID_IBAN),
        channel=Application.Channel.DESK,
    )
    application_approve(application=claimant, reason="ok", by=None)
    initiative_close(initiative=refunds)
    initiative_rank(initiative=refunds)
    claimant.refresh_from_db()
    claim = reimbursement_claim_submit(
        application=claimant,
        expenses=[
            ExpenseData(
                amount="12.50",
                spent_on=timezone.localdate(),
                category=refunds.allowed_categories.get(),
                receipt=SimpleUploadedFile("scontrino.jpg", JPEG),
                description=f"Spesa {tag}",
            )
        ],
    )
    users["claimant"] = beneficiary_user(beneficiary=claimant.applicant)

    fund_account = Account.objects.get(key=f"fund:{call.fund_id}")
    tenant.rows.update(
        {
            "core.Organization": town,
            "core.Fund": Fund.objects.get(pk=call.fund_id),
            "core.Contribution": contribution,
            "core.Journal": contribution.journal,
            "core.Posting": contribution.journal.postings.get(account=fund_account),
            "core.Account": fund_account,
            "core.PaymentBatch": batch,
            "auth.User": users[Role.PROGRAMME_MANAGER],
            "vouchers.Initiative": call,
            "vouchers.InitiativeFunding": InitiativeFunding.objects.filter(initiative=call).first(),
            "vouchers.Beneficiary": holder,
            "vouchers.Application": funded,
            "vouchers.Voucher": voucher,
            "vouchers.IssuanceRun": run,
            "vouchers.ArchiveExport": archive,
            "vouchers.Notification": funded.notifications.first(),
            "vouchers.ReimbursementClaim": claim,
            "vouchers.Expense": claim.expenses.get(),
            "merchants.Merchant": shop,
            "merchants.DeviceKey": DeviceKey.objects.filter(merchant=shop).get(),
            "merchants.Redemption": redemption,
            "merchants.Settlement": settlement,
            "merchants.RefusedAttempt": refused,
        }
    )
    # Rows a newer flow may not create (a call's budget tranches, for one) are left out.
    tenant.rows = {label: row for label, row in tenant.rows.items() if row is not None}
    tenant.extra.update(
        {
            "waiting": waiting,
            "document": document,
            "settled_redemption": settled,
            "device_key": raw_key,
            "refunds": refunds,
            "claimant": claimant,
            "funder": funder,
            "charity": charity,
        }
    )
    return tenant


def world_build() -> World:
    agency = Organization.objects.create(kind=Organization.Kind.AGENCY, name="Agenzia")
    agency_user = _staff(Role.AGENCY_ADMIN, agency, "agency-admin")
    superuser = get_user_model().objects.create_superuser(
        username="root", email="root@example.org", password="password"
    )
    a = tenant_build("A", agency_user=agency_user)
    b = tenant_build("B", agency_user=agency_user)
    category = factories.category(slug="alimentari")
    return World(
        a=a,
        b=b,
        users={SUPERUSER: superuser, Role.AGENCY_ADMIN: agency_user},
        shared={"agency": agency, "vouchers.SpendingCategory": category},
    )
