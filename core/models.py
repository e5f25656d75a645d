from decimal import Decimal

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Organization(models.Model):
    """An agency, municipality, funder or third-sector body taking part in programmes."""

    class Kind(models.TextChoices):
        AGENCY = "agency", _("Agenzia di gestione")
        MUNICIPALITY = "municipality", _("Comune")
        FUNDER = "funder", _("Finanziatore")
        THIRD_SECTOR = "third_sector", _("Ente del terzo settore")

    class FunderKind(models.TextChoices):
        NATIONAL = "national", _("Nazionale")
        REGIONAL = "regional", _("Regionale")
        MUNICIPAL = "municipal", _("Comunale")
        FOUNDATION = "foundation", _("Fondazione privata")
        RETAILER = "retailer", _("Programma fedeltà di un esercente")
        DONATIONS = "donations", _("Donazioni dei cittadini")

    kind = models.CharField(_("tipo"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("nome"), max_length=200)
    istat_code = models.CharField(
        _("codice ISTAT"),
        max_length=6,
        blank=True,
        default="",
        validators=[RegexValidator(r"^\d{6}$", _("Il codice ISTAT ha sei cifre."))],
        help_text=_("Solo per i comuni: sei cifre, per esempio 058091 per Roma."),
    )
    funder_kind = models.CharField(
        _("tipo di finanziatore"), max_length=20, choices=FunderKind.choices, blank=True, default=""
    )
    email = models.EmailField(_("e-mail"), blank=True, default="")
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("ente")
        verbose_name_plural = _("enti")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["istat_code"],
                condition=~models.Q(istat_code=""),
                name="organization_istat_code_unique",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="municipality") | ~models.Q(istat_code=""),
                name="organization_municipality_has_istat_code",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", _("Agenzia di gestione")
    PROGRAMME_MANAGER = "programme_manager", _("Responsabile del bando")
    DESK_OPERATOR = "desk_operator", _("Sportellista")
    VALIDATOR = "validator", _("Convalidatore")
    TUTOR = "tutor", _("Tutor")
    FUND_MANAGER = "fund_manager", _("Gestore del fondo")
    FUNDER = "funder", _("Finanziatore")


class Membership(models.Model):
    """A staff user's role within an organisation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("utente"),
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("ente")
    )
    role = models.CharField(_("ruolo"), max_length=30, choices=Role.choices)
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("appartenenza")
        verbose_name_plural = _("appartenenze")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization", "role"], name="membership_unique_role"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.organization}"


class Fund(models.Model):
    """A pot of money fed by contributions and assigned to calls."""

    name = models.CharField(_("nome"), max_length=200)
    manager = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="managed_funds",
        verbose_name=_("ente gestore"),
    )
    description = models.TextField(_("descrizione"), blank=True, default="")
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("fondo")
        verbose_name_plural = _("fondi")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contribution(models.Model):
    """Money a funder put into a fund, with the act that justifies it."""

    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, related_name="contributions", verbose_name=_("fondo")
    )
    funder = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="contributions",
        verbose_name=_("finanziatore"),
    )
    amount = models.DecimalField(_("importo"), max_digits=14, decimal_places=2)
    document_reference = models.CharField(
        _("riferimento dell'atto"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Decreto, delibera o CUP che giustifica il contributo."),
    )
    received_on = models.DateField(_("data"))
    journal = models.OneToOneField(
        "Journal", on_delete=models.PROTECT, related_name="+", verbose_name=_("registrazione")
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("contributo")
        verbose_name_plural = _("contributi")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="contribution_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.funder} → {self.fund}: {self.amount}"


class Account(models.Model):
    """A ledger account, named by a stable key such as ``initiative:7:budget``."""

    class Kind(models.TextChoices):
        FUNDER_SOURCE = "funder_source", _("Fonte del finanziatore")
        FUND = "fund", _("Fondo")
        INITIATIVE_BUDGET = "initiative_budget", _("Budget del bando")
        VOUCHERS_OUTSTANDING = "vouchers_outstanding", _("Buoni in circolazione")
        MERCHANT_PAYABLE = "merchant_payable", _("Debito verso l'esercente")
        MERCHANT_SETTLED = "merchant_settled", _("Liquidato all'esercente")

    key = models.CharField(_("chiave"), max_length=100, unique=True)
    kind = models.CharField(_("tipo"), max_length=30, choices=Kind.choices)
    name = models.CharField(_("nome"), max_length=200)

    class Meta:
        verbose_name = _("conto")
        verbose_name_plural = _("conti")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class Journal(models.Model):
    """One balanced movement of money: its postings sum to zero."""

    class Kind(models.TextChoices):
        CONTRIBUTION = "contribution", _("Contributo ricevuto")
        BUDGET_ASSIGNED = "budget_assigned", _("Budget assegnato al bando")
        VOUCHERS_ISSUED = "vouchers_issued", _("Buoni emessi")
        REDEMPTION = "redemption", _("Utilizzo del buono")
        REDEMPTION_VOID = "redemption_void", _("Annullamento di un utilizzo")
        VOUCHER_EXPIRED = "voucher_expired", _("Buono scaduto")
        VOUCHER_REVOKED = "voucher_revoked", _("Buono revocato")
        SETTLEMENT = "settlement", _("Liquidazione all'esercente")

    kind = models.CharField(_("tipo"), max_length=30, choices=Kind.choices)
    memo = models.CharField(_("descrizione"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("registrato il"), auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrato da"),
    )

    class Meta:
        verbose_name = _("registrazione contabile")
        verbose_name_plural = _("registrazioni contabili")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class Posting(models.Model):
    """One line of a journal: a signed amount on an account.

    ``voucher_ref`` and ``merchant_ref`` tag the line with the voucher and the shop it
    concerns (ids of rows in the apps that build on ``core``), so that a voucher's balance
    and a shop's payable can be recomputed from the ledger alone.
    """

    journal = models.ForeignKey(
        Journal, on_delete=models.PROTECT, related_name="postings", verbose_name=_("registrazione")
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="postings", verbose_name=_("conto")
    )
    amount = models.DecimalField(
        _("importo"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positivo se il conto riceve denaro, negativo se lo cede."),
    )
    voucher_ref = models.BigIntegerField(_("buono"), null=True, blank=True)
    merchant_ref = models.BigIntegerField(_("esercente"), null=True, blank=True)

    class Meta:
        verbose_name = _("movimento")
        verbose_name_plural = _("movimenti")
        indexes = [
            models.Index(fields=["account", "voucher_ref"], name="posting_account_voucher"),
            models.Index(fields=["account", "merchant_ref"], name="posting_account_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount=Decimal("0")), name="posting_not_zero"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account}: {self.amount}"
