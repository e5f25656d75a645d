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
    # A citizen's donation: who gave, and the receipt the donor is entitled to.
    donor_name = models.CharField(
        _("donatore"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Nome e cognome (o denominazione) di chi dona: solo per le donazioni."),
    )
    donor_fiscal_code = models.CharField(
        _("codice fiscale del donatore"), max_length=16, blank=True, default=""
    )
    donor_address = models.CharField(
        _("indirizzo del donatore"), max_length=200, blank=True, default=""
    )
    purpose = models.CharField(
        _("causale"),
        max_length=200,
        blank=True,
        default="",
        help_text=_("Per che cosa è dato il contributo; compare sulla ricevuta."),
    )
    receipt_year = models.PositiveSmallIntegerField(
        _("anno della ricevuta"), null=True, blank=True, editable=False
    )
    receipt_number = models.PositiveIntegerField(
        _("numero della ricevuta"), null=True, blank=True, editable=False
    )
    # Points of a retailer's loyalty programme converted into euro.
    loyalty_points = models.PositiveBigIntegerField(
        _("punti fedeltà"), null=True, blank=True, editable=False
    )
    loyalty_rate = models.DecimalField(
        _("euro per punto"),
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        editable=False,
    )
    import_fingerprint = models.CharField(
        _("impronta del file importato"), max_length=64, blank=True, default="", editable=False
    )

    class Meta:
        verbose_name = _("contributo")
        verbose_name_plural = _("contributi")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="contribution_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["receipt_year", "receipt_number"],
                condition=models.Q(receipt_number__isnull=False),
                name="contribution_receipt_number_unique",
            ),
            models.UniqueConstraint(
                fields=["import_fingerprint"],
                condition=~models.Q(import_fingerprint=""),
                name="contribution_import_fingerprint_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.funder} → {self.fund}: {self.amount}"

    @property
    def receipt_label(self) -> str:
        """The donation receipt's number as printed: ``2026/000012``."""
        if self.receipt_number is None:
            return ""
        return f"{self.receipt_year}/{self.receipt_number:06d}"


class Account(models.Model):
    """A ledger account, named by a stable key such as ``initiative:7:budget``."""

    class Kind(models.TextChoices):
        FUNDER_SOURCE = "funder_source", _("Fonte del finanziatore")
        FUND = "fund", _("Fondo")
        INITIATIVE_BUDGET = "initiative_budget", _("Budget del bando")
        VOUCHERS_OUTSTANDING = "vouchers_outstanding", _("Buoni in circolazione")
        MERCHANT_PAYABLE = "merchant_payable", _("Debito verso l'esercente")
        MERCHANT_SETTLED = "merchant_settled", _("Liquidato all'esercente")
        MERCHANT_PAID = "merchant_paid", _("Pagato all'esercente")
        BENEFICIARY_PAYABLE = "beneficiary_payable", _("Debito verso il beneficiario")
        BENEFICIARY_PAID = "beneficiary_paid", _("Pagato al beneficiario")
        TRANSFERS_RECEIVED = "transfers_received", _("Trasferimenti ricevuti per il bando")
        MUNICIPALITY_TRANSFERS = "municipality_transfers", _("Trasferimenti del comune")

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
        SETTLEMENT_PAID = "settlement_paid", _("Liquidazione pagata")
        REIMBURSEMENT_APPROVED = "reimbursement_approved", _("Rimborso approvato")
        BENEFICIARY_PAID = "beneficiary_paid", _("Pagamento al beneficiario")
        INCOMING_TRANSFER = "incoming_transfer", _("Trasferimento ricevuto dal comune")
        CASH_CONTRIBUTION = "cash_contribution", _("Contributo economico concesso")
        CASH_CONTRIBUTION_CANCELLED = (
            "cash_contribution_cancelled",
            _("Contributo economico annullato"),
        )

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
        db_index=False,  # a partial index below: a till's sale and a task's entry have none
    )

    class Meta:
        verbose_name = _("registrazione contabile")
        verbose_name_plural = _("registrazioni contabili")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["created_by"],
                name="journal_created_by",
                condition=models.Q(created_by__isnull=False),
            ),
        ]

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
    # Indexed by (account, voucher_ref) and (account, merchant_ref), which serve the look-ups
    # by account too.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="postings",
        verbose_name=_("conto"),
        db_index=False,
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


class PaymentBatch(models.Model):
    """A distinta: SEPA credit transfers from the agency's account, in one pain.001 file.

    One person prepares it and another releases it (four eyes); only a released batch is
    exported to the bank, and it is paid when the bank confirms (by hand or with camt.054).
    The debtor's name, account and address are copied from the settings when the batch is
    prepared, so that the file exported later is always the same.
    """

    class Kind(models.TextChoices):
        MERCHANT_SETTLEMENTS = "merchant_settlements", _("Liquidazioni agli esercenti")
        BENEFICIARY_PAYMENTS = "beneficiary_payments", _("Pagamenti ai beneficiari")

    class Status(models.TextChoices):
        PREPARED = "prepared", _("Preparata")
        RELEASED = "released", _("Autorizzata")
        EXPORTED = "exported", _("Esportata")
        PAID = "paid", _("Pagata")
        CANCELLED = "cancelled", _("Annullata")

    kind = models.CharField(_("tipo"), max_length=30, choices=Kind.choices)
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.PREPARED
    )
    message_id = models.CharField(
        _("identificativo del messaggio"),
        max_length=35,
        unique=True,
        help_text=_("MsgId del file pain.001: la banca rifiuta un file con un MsgId già visto."),
    )
    requested_execution_date = models.DateField(_("data di esecuzione richiesta"))
    total = models.DecimalField(_("totale"), max_digits=14, decimal_places=2)
    transfers_count = models.PositiveIntegerField(_("numero di bonifici"))
    debtor_name = models.CharField(_("ordinante"), max_length=70)
    debtor_iban = models.CharField(_("IBAN dell'ordinante"), max_length=34)
    debtor_bic = models.CharField(_("BIC dell'ordinante"), max_length=11)
    debtor_street = models.CharField(_("via dell'ordinante"), max_length=70, blank=True)
    debtor_building_number = models.CharField(
        _("numero civico dell'ordinante"), max_length=16, blank=True
    )
    debtor_postcode = models.CharField(_("CAP dell'ordinante"), max_length=16, blank=True)
    debtor_town = models.CharField(_("località dell'ordinante"), max_length=35, blank=True)
    debtor_country = models.CharField(_("paese dell'ordinante"), max_length=2, default="IT")
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("preparata da"),
    )
    prepared_at = models.DateTimeField(_("preparata il"))
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("autorizzata da"),
    )
    released_at = models.DateTimeField(_("autorizzata il"), null=True, blank=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("esportata da"),
    )
    exported_at = models.DateTimeField(
        _("esportata il"),
        null=True,
        blank=True,
        help_text=_("Data di creazione scritta nel file: ogni nuova esportazione è identica."),
    )
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("segnata pagata da"),
    )
    paid_at = models.DateTimeField(_("pagata il"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("annullata da"),
    )
    cancelled_at = models.DateTimeField(_("annullata il"), null=True, blank=True)
    cancel_reason = models.CharField(
        _("motivo dell'annullamento"), max_length=255, blank=True, default=""
    )

    class Meta:
        verbose_name = _("distinta di pagamento")
        verbose_name_plural = _("distinte di pagamento")
        ordering = ["-prepared_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gt=Decimal("0")), name="payment_batch_total_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(transfers_count__gt=0), name="payment_batch_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(released_by__isnull=True)
                | ~models.Q(released_by=models.F("prepared_by")),
                name="payment_batch_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} · {self.get_status_display()}"

    @property
    def payment_information_id(self) -> str:
        """The PmtInfId of the file's single payment information block."""
        return f"{self.message_id}-1"


class PaymentLine(models.Model):
    """One credit transfer of a batch: who is paid, where, how much and why.

    Names and addresses are stored already in the SEPA character set and within the
    lengths of the file, so the database shows exactly what the bank receives.
    """

    batch = models.ForeignKey(
        PaymentBatch, on_delete=models.PROTECT, related_name="lines", verbose_name=_("distinta")
    )
    end_to_end_id = models.CharField(
        _("identificativo end-to-end"),
        max_length=35,
        unique=True,
        help_text=_("EndToEndId: la banca lo riporta nella notifica di addebito (camt.054)."),
    )
    creditor_name = models.CharField(_("beneficiario"), max_length=70)
    creditor_iban = models.CharField(_("IBAN del beneficiario"), max_length=34)
    creditor_bic = models.CharField(_("BIC del beneficiario"), max_length=11, blank=True)
    street = models.CharField(_("via"), max_length=70, blank=True)
    building_number = models.CharField(_("numero civico"), max_length=16, blank=True)
    postcode = models.CharField(_("CAP"), max_length=16, blank=True)
    town = models.CharField(_("località"), max_length=35, blank=True)
    country = models.CharField(_("paese"), max_length=2, default="IT")
    amount = models.DecimalField(_("importo"), max_digits=14, decimal_places=2)
    remittance = models.CharField(_("causale"), max_length=140)
    merchant_ref = models.BigIntegerField(
        _("esercente"),
        null=True,
        blank=True,
        help_text=_("Il negozio pagato, per la registrazione contabile del pagamento."),
    )
    beneficiary_ref = models.BigIntegerField(
        _("beneficiario pagato"),
        null=True,
        blank=True,
        help_text=_("La persona pagata, per la registrazione contabile del pagamento."),
    )
    claim_ref = models.BigIntegerField(
        _("richiesta di rimborso"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("La richiesta di rimborso che il bonifico paga."),
    )
    application_ref = models.BigIntegerField(
        _("domanda del contributo"),
        null=True,
        blank=True,
        db_index=True,
        help_text=_("La domanda il cui contributo economico il bonifico paga."),
    )
    paid_at = models.DateTimeField(_("pagato il"), null=True, blank=True)
    journal = models.ForeignKey(
        Journal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrazione del pagamento"),
    )

    class Meta:
        verbose_name = _("bonifico")
        verbose_name_plural = _("bonifici")
        ordering = ["batch", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=Decimal("0")), name="payment_line_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.end_to_end_id} · {self.creditor_name} · {self.amount}"


class ReceiptCounter(models.Model):
    """The last donation receipt number given in a year (numbers restart each year)."""

    year = models.PositiveSmallIntegerField(_("anno"), unique=True)
    last_number = models.PositiveIntegerField(_("ultimo numero"), default=0)

    class Meta:
        verbose_name = _("numeratore delle ricevute")
        verbose_name_plural = _("numeratori delle ricevute")

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class LoyaltyPointsLine(models.Model):
    """One row of a retailer's loyalty-points file, kept with the contribution it made."""

    contribution = models.ForeignKey(
        Contribution,
        on_delete=models.PROTECT,
        related_name="loyalty_lines",
        verbose_name=_("contributo"),
    )
    row_number = models.PositiveIntegerField(_("riga"))
    earned_on = models.DateField(_("data"))
    store_reference = models.CharField(_("punto vendita"), max_length=100)
    points = models.PositiveBigIntegerField(_("punti"))

    class Meta:
        verbose_name = _("riga di punti fedeltà")
        verbose_name_plural = _("righe di punti fedeltà")
        ordering = ["contribution", "row_number"]

    def __str__(self) -> str:
        return f"{self.earned_on} · {self.store_reference} · {self.points}"
