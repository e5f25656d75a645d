import hashlib
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from simple_history.models import HistoricalRecords
from stdnum.it import iva

from core.models import Organization
from vouchers.models import SpendingCategory, Voucher


def validate_vat_number(value: str) -> None:
    try:
        iva.validate(value)
    except Exception as exc:  # stdnum raises several ValidationError subclasses
        raise ValidationError(
            _("Partita IVA non valida: sono 11 cifre con la cifra di controllo giusta."),
            code="invalid_vat_number",
        ) from exc


def validate_iban(value: str) -> None:
    try:
        IBAN(value, validate_bban=True)
    except SchwiftyException as exc:
        raise ValidationError(
            _("IBAN non valido: controlla paese, cifre di controllo e CIN."), code="invalid_iban"
        ) from exc


class Merchant(models.Model):
    """A shop that may be accredited into the circuit of one or more calls."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Richiesta di accreditamento")
        ACCREDITED = "accredited", _("Accreditato")
        SUSPENDED = "suspended", _("Sospeso")
        REJECTED = "rejected", _("Respinto")

    class SettlementFrequency(models.TextChoices):
        DAILY = "daily", _("Ogni giorno")
        WEEKLY = "weekly", _("Ogni settimana")
        ON_DEMAND = "on_demand", _("Su richiesta")

    class Weekday(models.IntegerChoices):
        # Numbered as date.weekday(): Monday is 0.
        MONDAY = 0, _("Lunedì")
        TUESDAY = 1, _("Martedì")
        WEDNESDAY = 2, _("Mercoledì")
        THURSDAY = 3, _("Giovedì")
        FRIDAY = 4, _("Venerdì")
        SATURDAY = 5, _("Sabato")
        SUNDAY = 6, _("Domenica")

    name = models.CharField(_("insegna"), max_length=200)
    legal_name = models.CharField(_("ragione sociale"), max_length=200, blank=True, default="")
    vat_number = models.CharField(
        _("partita IVA"), max_length=11, unique=True, validators=[validate_vat_number]
    )
    iban = models.CharField(_("IBAN"), max_length=34, validators=[validate_iban])
    street = models.CharField(_("indirizzo"), max_length=200)
    postal_code = models.CharField(_("CAP"), max_length=5)
    town = models.CharField(_("località"), max_length=100)
    province = models.CharField(_("provincia"), max_length=2, blank=True, default="")
    email = models.EmailField(_("e-mail"), blank=True, default="")
    phone = models.CharField(_("telefono"), max_length=30, blank=True, default="")
    categories = models.ManyToManyField(
        SpendingCategory, related_name="merchants", verbose_name=_("categorie")
    )
    municipalities = models.ManyToManyField(
        Organization,
        related_name="merchants",
        limit_choices_to={"kind": Organization.Kind.MUNICIPALITY},
        verbose_name=_("comuni serviti"),
    )
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    status_reason = models.CharField(_("motivo"), max_length=255, blank=True, default="")
    settlement_frequency = models.CharField(
        _("frequenza delle liquidazioni"),
        max_length=10,
        choices=SettlementFrequency.choices,
        default=SettlementFrequency.ON_DEMAND,
        help_text=_(
            "Ogni giorno o ogni settimana: la liquidazione programmata della notte paga gli "
            "utilizzi fino al giorno prima. Su richiesta: solo dall'amministrazione o dal comando."
        ),
    )
    settlement_weekday = models.PositiveSmallIntegerField(
        _("giorno della liquidazione settimanale"),
        choices=Weekday.choices,
        default=Weekday.MONDAY,
        help_text=_("Conta solo per le liquidazioni settimanali."),
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[categories, municipalities])

    class Meta:
        verbose_name = _("esercente")
        verbose_name_plural = _("esercenti")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(settlement_weekday__lte=6),
                name="merchant_settlement_weekday_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.iban = IBAN(self.iban, allow_invalid=True).compact if self.iban else self.iban
        super().save(*args, **kwargs)

    @property
    def payable_account_key(self) -> str:
        return f"merchant:{self.pk}:payable"

    @property
    def settled_account_key(self) -> str:
        return f"merchant:{self.pk}:settled"


class MerchantStaff(models.Model):
    """A person who works for a shop: its owner or a cashier."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Titolare")
        CASHIER = "cashier", _("Cassiere")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="merchant_roles",
        verbose_name=_("utente"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="staff", verbose_name=_("esercente")
    )
    role = models.CharField(_("ruolo"), max_length=10, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("personale del negozio")
        verbose_name_plural = _("personale dei negozi")
        constraints = [
            # One shop per person keeps "which till am I" unambiguous.
            models.UniqueConstraint(fields=["user"], name="merchant_staff_one_shop_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.merchant}"


def hash_device_key(raw_key: str) -> str:
    """Return the stored digest of a device key (keys are long random strings)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class DeviceKey(models.Model):
    """An API key for one till; the key is shown once and stored only as a hash."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="device_keys", verbose_name=_("esercente")
    )
    name = models.CharField(_("nome del dispositivo"), max_length=100)
    prefix = models.CharField(_("prefisso"), max_length=8, editable=False)
    key_hash = models.CharField(_("impronta"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("creata il"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("creata da"),
    )
    revoked_at = models.DateTimeField(_("revocata il"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revocata da"),
    )
    last_used_at = models.DateTimeField(_("ultimo uso"), null=True, blank=True)

    class Meta:
        verbose_name = _("chiave di dispositivo")
        verbose_name_plural = _("chiavi di dispositivo")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Settlement(models.Model):
    """A payment to a shop of the redemptions it collected, without any fee."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("esercente")
    )
    total = models.DecimalField(_("totale"), max_digits=14, decimal_places=2)
    redemptions_count = models.PositiveIntegerField(_("numero di utilizzi"))
    created_at = models.DateTimeField(_("creata il"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("creata da"),
    )
    journal = models.OneToOneField(
        "core.Journal", on_delete=models.PROTECT, related_name="+", verbose_name=_("registrazione")
    )
    payment_line = models.OneToOneField(
        "core.PaymentLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement",
        verbose_name=_("bonifico"),
        help_text=_("Il bonifico della distinta che paga questa liquidazione."),
    )

    class Meta:
        verbose_name = _("liquidazione")
        verbose_name_plural = _("liquidazioni")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.total}"


class Redemption(models.Model):
    """An amount spent from a voucher at a shop."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confermato")
        VOIDED = "voided", _("Annullato")

    voucher = models.ForeignKey(
        Voucher, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("buono")
    )
    # Indexed by (merchant, created_at), which serves the look-ups by merchant too.
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="redemptions",
        verbose_name=_("esercente"),
        db_index=False,
    )
    amount = models.DecimalField(_("importo"), max_digits=10, decimal_places=2)
    balance_after = models.DecimalField(_("saldo dopo"), max_digits=10, decimal_places=2)
    status = models.CharField(
        _("stato"), max_length=10, choices=Status.choices, default=Status.CONFIRMED
    )
    created_at = models.DateTimeField(_("eseguito il"), db_index=True)
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cassiere"),
        db_index=False,  # a partial index below: a till's sale has none
    )
    device = models.ForeignKey(
        DeviceKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        verbose_name=_("dispositivo"),
    )
    voided_at = models.DateTimeField(_("annullato il"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("annullato da"),
        db_index=False,  # a partial index below: few sales are voided
    )
    settlement = models.ForeignKey(
        Settlement,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
        verbose_name=_("liquidazione"),
    )
    journal = models.OneToOneField(
        "core.Journal", on_delete=models.PROTECT, related_name="+", verbose_name=_("registrazione")
    )

    class Meta:
        verbose_name = _("utilizzo")
        verbose_name_plural = _("utilizzi")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "created_at"], name="redemption_merchant_created"),
            # Only the rows that have one: every sale would otherwise add a NULL to each.
            models.Index(
                fields=["cashier"],
                name="redemption_cashier",
                condition=models.Q(cashier__isnull=False),
            ),
            models.Index(
                fields=["voided_by"],
                name="redemption_voided_by",
                condition=models.Q(voided_by__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=Decimal("0")), name="redemption_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number} · {self.amount}"

    @property
    def receipt_number(self) -> str:
        return f"{self.created_at:%Y}-{self.pk:08d}"


# The request_hash of a key closed by a look-up that found no sale under it. A real
# request's hash is 64 hexadecimal digits, so no request ever matches it.
CLOSED_KEY_HASH = "closed"


class IdempotencyRecord(models.Model):
    """The first answer given to a redemption request with a client's Idempotency-Key.

    A record without a redemption is a closed key: a till asked whether a sale sent with it
    was recorded, none was, and the answer "nothing was charged" must stay true, so a request
    with this key that arrives later is refused (``merchants.services.redemption.idempotency_key_resolve``).
    """

    # Looked up by (merchant, key): the unique constraint's index serves it and every look-up
    # by merchant. A second index on merchant alone cost each sale an insert, and a backend
    # that planned the look-up on a small table kept scanning all the shop's keys through it.
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("esercente"),
        db_index=False,
    )
    key = models.CharField(_("chiave"), max_length=255)
    request_hash = models.CharField(_("impronta della richiesta"), max_length=64)
    redemption = models.OneToOneField(
        Redemption,
        on_delete=models.CASCADE,
        related_name="idempotency_record",
        verbose_name=_("utilizzo"),
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("chiave di idempotenza")
        verbose_name_plural = _("chiavi di idempotenza")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_merchant_key")
        ]

    def __str__(self) -> str:
        return self.key


class RefusedAttempt(models.Model):
    """A check or redemption that was refused, and why."""

    class Action(models.TextChoices):
        CHECK = "check", _("Verifica")
        REDEEM = "redeem", _("Utilizzo")
        VOID = "void", _("Annullamento")

    action = models.CharField(_("operazione"), max_length=10, choices=Action.choices)
    reason = models.CharField(_("motivo"), max_length=50, db_index=True)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="refused_attempts",
        verbose_name=_("esercente"),
    )
    device = models.ForeignKey(
        DeviceKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dispositivo"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("utente"),
    )
    voucher = models.ForeignKey(
        Voucher,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="refused_attempts",
        verbose_name=_("buono"),
    )
    code_hint = models.CharField(_("fine del codice"), max_length=8, blank=True, default="")
    amount = models.DecimalField(
        _("importo"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    ip_address = models.GenericIPAddressField(_("indirizzo IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("quando"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("tentativo rifiutato")
        verbose_name_plural = _("tentativi rifiutati")
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["device", "reason", "created_at"], name="refused_device_reason_time"
            ),
            models.Index(fields=["user", "reason", "created_at"], name="refused_user_reason_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.reason}"
