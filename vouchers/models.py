from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from stdnum.it import codicefiscale

from core.models import Fund, Organization
from vouchers.codes import group_code


def validate_fiscal_code(value: str) -> None:
    try:
        codicefiscale.validate(value)
    except Exception as exc:  # stdnum raises several ValidationError subclasses
        raise ValidationError(
            _("Codice fiscale non valido: controlla lettere e cifre."), code="invalid_fiscal_code"
        ) from exc


class SpendingCategory(models.Model):
    """A kind of goods a call pays for and a shop sells (food, pharmacy, school books…)."""

    slug = models.SlugField(_("codice"), max_length=50, unique=True)
    name = models.CharField(_("nome"), max_length=100)

    class Meta:
        verbose_name = _("categoria di spesa")
        verbose_name_plural = _("categorie di spesa")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Initiative(models.Model):
    """A welfare call (bando) that hands out vouchers to its beneficiaries."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Bozza")
        PUBLISHED = "published", _("Pubblicato")
        CLOSED = "closed", _("Chiuso")
        RANKED = "ranked", _("Graduatoria approvata")
        ISSUED = "issued", _("Buoni emessi")
        ARCHIVED = "archived", _("Archiviato")

    title = models.CharField(_("titolo"), max_length=200)
    description = models.TextField(_("descrizione"), blank=True, default="")
    municipalities = models.ManyToManyField(
        Organization,
        related_name="initiatives",
        limit_choices_to={"kind": Organization.Kind.MUNICIPALITY},
        verbose_name=_("comuni partecipanti"),
    )
    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, related_name="initiatives", verbose_name=_("fondo")
    )
    face_value = models.DecimalField(
        _("valore del buono"),
        max_digits=10,
        decimal_places=2,
        help_text=_("Importo di ogni buono emesso, in euro."),
    )
    partial_allowed = models.BooleanField(
        _("spesa frazionabile"),
        default=True,
        help_text=_(
            "Se attivo il buono si spende in più volte fino a esaurire il saldo; "
            "altrimenti ogni buono ha un taglio fisso e si spende tutto in una volta."
        ),
    )
    valid_from = models.DateField(_("valido dal"))
    valid_until = models.DateField(_("valido fino al"))
    allowed_categories = models.ManyToManyField(
        SpendingCategory,
        related_name="initiatives",
        verbose_name=_("categorie ammesse"),
    )
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[municipalities, allowed_categories])

    class Meta:
        verbose_name = _("bando")
        verbose_name_plural = _("bandi")
        ordering = ["-valid_from", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(face_value__gt=0), name="initiative_face_value_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")),
                name="initiative_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValidationError({"valid_until": _("La fine della validità viene dopo l'inizio.")})

    @property
    def budget_account_key(self) -> str:
        return f"initiative:{self.pk}:budget"

    @property
    def outstanding_account_key(self) -> str:
        return f"initiative:{self.pk}:outstanding"


class Beneficiary(models.Model):
    """A citizen who receives vouchers."""

    fiscal_code = models.CharField(
        _("codice fiscale"), max_length=16, unique=True, validators=[validate_fiscal_code]
    )
    first_name = models.CharField(_("nome"), max_length=100)
    last_name = models.CharField(_("cognome"), max_length=100)
    email = models.EmailField(_("e-mail"), blank=True, default="")
    phone = models.CharField(_("telefono"), max_length=30, blank=True, default="")
    municipality = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="beneficiaries",
        limit_choices_to={"kind": Organization.Kind.MUNICIPALITY},
        verbose_name=_("comune di residenza"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="beneficiary",
        verbose_name=_("utente dell'app"),
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("beneficiario")
        verbose_name_plural = _("beneficiari")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs):
        self.fiscal_code = self.fiscal_code.strip().upper()
        super().save(*args, **kwargs)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Voucher(models.Model):
    """A named voucher: a code, its holder and what is left to spend."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Attivo")
        EXHAUSTED = "exhausted", _("Esaurito")
        EXPIRED = "expired", _("Scaduto")
        REVOKED = "revoked", _("Revocato")

    class Medium(models.TextChoices):
        DIGITAL = "digital", _("Digitale (app)")
        PRINTED = "printed", _("Stampato")

    code = models.CharField(_("codice"), max_length=20, unique=True, editable=False)
    initiative = models.ForeignKey(
        Initiative, on_delete=models.PROTECT, related_name="vouchers", verbose_name=_("bando")
    )
    beneficiary = models.ForeignKey(
        Beneficiary,
        on_delete=models.PROTECT,
        related_name="vouchers",
        verbose_name=_("intestatario"),
    )
    face_value = models.DecimalField(_("valore nominale"), max_digits=10, decimal_places=2)
    balance = models.DecimalField(_("saldo"), max_digits=10, decimal_places=2)
    partial_allowed = models.BooleanField(_("spesa frazionabile"), default=True)
    valid_from = models.DateField(_("valido dal"))
    valid_until = models.DateField(_("valido fino al"))
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    medium = models.CharField(
        _("supporto"), max_length=10, choices=Medium.choices, default=Medium.DIGITAL
    )
    issued_at = models.DateTimeField(_("emesso il"), default=timezone.now)
    closed_at = models.DateTimeField(_("chiuso il"), null=True, blank=True)
    closed_reason = models.CharField(_("motivo"), max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("buono")
        verbose_name_plural = _("buoni")
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance__gte=Decimal("0")), name="voucher_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(balance__lte=models.F("face_value")),
                name="voucher_balance_within_face_value",
            ),
            models.CheckConstraint(
                condition=models.Q(face_value__gt=Decimal("0")),
                name="voucher_face_value_positive",
            ),
        ]
        indexes = [models.Index(fields=["initiative", "status"], name="voucher_initiative_status")]

    def __str__(self) -> str:
        return self.grouped_code

    @property
    def grouped_code(self) -> str:
        return group_code(self.code)

    @property
    def code_hint(self) -> str:
        """The last characters only, for lists where the whole code must not show."""
        return f"…{self.code[-4:]}"
