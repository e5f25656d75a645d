from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import (
    FileExtensionValidator,
    MaxValueValidator,
    MinValueValidator,
)
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from stdnum.it import codicefiscale

from core.models import Fund, Organization
from vouchers.codes import group_code

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def validate_fiscal_code(value: str) -> None:
    try:
        codicefiscale.validate(value)
    except Exception as exc:  # stdnum raises several ValidationError subclasses
        raise ValidationError(
            _("Codice fiscale non valido: controlla lettere e cifre."), code="invalid_fiscal_code"
        ) from exc


RANKING_CRITERIA = {
    "isee_asc": _("ISEE crescente"),
    "household_desc": _("Nucleo più numeroso"),
    "children_desc": _("Più figli nella fascia d'età"),
}


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

    # The calls citizens see in the app, and those whose ranking is public.
    PUBLIC_STATUSES = (Status.PUBLISHED, Status.CLOSED, Status.RANKED, Status.ISSUED)
    RANKING_PUBLIC_STATUSES = (Status.RANKED, Status.ISSUED, Status.ARCHIVED)

    class BenefitKind(models.TextChoices):
        VOUCHER_CARD = "voucher_card", _("Carta con saldo (spesa frazionabile)")
        FIXED_BUONI = "fixed_buoni", _("Buoni a taglio fisso")
        REIMBURSEMENT = "reimbursement", _("Rimborso di spese sostenute")
        CASH_TRANSFER = "cash_transfer", _("Contributo economico (bonifico)")

    class AttributionRule(models.TextChoices):
        PRO_RATA = "pro_rata", _("In proporzione agli importi delle fonti")
        PRIORITY = "priority", _("In ordine di priorità delle fonti")

    class AmountRule(models.TextChoices):
        FIXED = "fixed", _("Importo fisso")
        PER_MEMBER = "per_member", _("Per componente del nucleo")
        BASE_PLUS_MEMBER = "base_plus_member", _("Base più quota per componente")
        PER_CHILD = "per_child", _("Per figlio nella fascia d'età")

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
    benefit_kind = models.CharField(
        _("tipo di beneficio"),
        max_length=20,
        choices=BenefitKind.choices,
        default=BenefitKind.VOUCHER_CARD,
    )
    applications_open_at = models.DateTimeField(_("domande dal"), null=True, blank=True)
    applications_close_at = models.DateTimeField(_("domande fino al"), null=True, blank=True)
    planned_budget = models.DecimalField(
        _("budget previsto"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Quanto il bando intende distribuire; il budget effettivo viene dal fondo."),
    )
    # Eligibility rules
    residency_required = models.BooleanField(
        _("residenza obbligatoria"),
        default=True,
        help_text=_("Il richiedente risiede in uno dei comuni partecipanti."),
    )
    max_isee = models.DecimalField(
        _("ISEE massimo"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    min_household_size = models.PositiveSmallIntegerField(
        _("componenti minimi del nucleo"), null=True, blank=True
    )
    max_household_size = models.PositiveSmallIntegerField(
        _("componenti massimi del nucleo"), null=True, blank=True
    )
    min_children = models.PositiveSmallIntegerField(
        _("figli minimi nella fascia d'età"), null=True, blank=True
    )
    child_min_age = models.PositiveSmallIntegerField(
        _("età minima dei figli"), null=True, blank=True
    )
    child_max_age = models.PositiveSmallIntegerField(
        _("età massima dei figli"), null=True, blank=True
    )
    declarations = models.TextField(
        _("dichiarazioni obbligatorie"),
        blank=True,
        default="",
        help_text=_("Una per riga: il richiedente deve spuntarle tutte."),
    )
    # Amount rules
    amount_rule = models.CharField(
        _("regola dell'importo"),
        max_length=20,
        choices=AmountRule.choices,
        default=AmountRule.FIXED,
    )
    amount_base = models.DecimalField(
        _("importo base"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    amount_per_member = models.DecimalField(
        _("importo per componente"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    amount_per_child = models.DecimalField(
        _("importo per figlio"), max_digits=10, decimal_places=2, default=Decimal("0.00")
    )
    amount_cap = models.DecimalField(
        _("importo massimo"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    ranking_criteria = models.CharField(
        _("criteri della graduatoria"),
        max_length=200,
        default="isee_asc,household_desc,children_desc",
        help_text=_(
            "In ordine di priorità, separati da virgole: isee_asc, household_desc, "
            "children_desc. L'ora di presentazione decide sempre a parità."
        ),
    )
    attribution_rule = models.CharField(
        _("regola di attribuzione alle fonti"),
        max_length=10,
        choices=AttributionRule.choices,
        default=AttributionRule.PRO_RATA,
        help_text=_(
            "Come ogni euro speso o rimborsato si divide tra le fonti di finanziamento: in "
            "proporzione agli importi assegnati, o consumando prima la fonte di priorità 1."
        ),
    )
    responsible_officer = models.CharField(
        _("responsabile del procedimento"),
        max_length=200,
        blank=True,
        default="",
        help_text=_(
            "Nome, qualifica e ufficio: è scritto nelle lettere di esito. Se manca, le lettere "
            "indicano il responsabile dell'ufficio competente del Comune."
        ),
    )
    retention_years = models.PositiveSmallIntegerField(
        _("anni di conservazione dei dati personali"),
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_(
            "Contati dalla fine della validità del bando. Passato il termine, i dati personali "
            "dei beneficiari del bando archiviato sono anonimizzati; importi e conteggi restano."
        ),
    )
    personal_data_erased_at = models.DateTimeField(
        _("dati personali anonimizzati il"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[municipalities, allowed_categories])
    if TYPE_CHECKING:  # what django-simple-history reads on the instance when it is saved
        _change_reason: str
        _history_user: User | None
        skip_history_when_saving: bool

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

    # What decides who is eligible, who comes first and how much each receives: frozen once
    # the call is published (``clean``); a correction is an amendment with its reason
    # (``vouchers.services.amendments.initiative_amend``). Title, description, planned budget,
    # retention, documents and outcome texts decide nothing and stay editable until the
    # call is archived, when everything is read-only. How spending is split among the
    # funding sources has its own service (``vouchers.services.funding``), locked once money is split.
    RULE_FIELDS = (
        "benefit_kind",
        "fund",
        "face_value",
        "partial_allowed",
        "valid_from",
        "valid_until",
        "applications_open_at",
        "applications_close_at",
        "residency_required",
        "max_isee",
        "min_household_size",
        "max_household_size",
        "min_children",
        "child_min_age",
        "child_max_age",
        "declarations",
        "amount_rule",
        "amount_base",
        "amount_per_member",
        "amount_per_child",
        "amount_cap",
        "ranking_criteria",
    )
    RULE_M2M_FIELDS = ("municipalities", "allowed_categories")

    def __str__(self) -> str:
        return self.title

    @property
    def rules_frozen(self) -> bool:
        return self.status != self.Status.DRAFT

    def clean(self) -> None:
        errors = self.rule_errors()
        for name, error in self.frozen_errors().items():
            errors.setdefault(name, error)
        if errors:
            raise ValidationError(errors)

    def frozen_errors(self) -> dict:
        """The changes, against the stored row, that the call's status no longer allows.

        Status changes only through the services of the phases; once published, the rules
        change only by amendment; once archived, nothing changes. Relations (municipalities,
        categories) are kept out of the forms of a published call.
        """
        if self.pk is None:
            return {}
        stored = Initiative.objects.filter(pk=self.pk).first()
        if stored is None:
            return {}
        changed = [
            field.name
            for field in self._meta.concrete_fields
            if field.editable
            and not field.primary_key
            and getattr(self, field.attname) != getattr(stored, field.attname)
        ]
        if stored.status == self.Status.ARCHIVED and changed:
            return {NON_FIELD_ERRORS: _("Il bando è archiviato: non si modifica più.")}
        errors = {}
        if "status" in changed:
            errors[NON_FIELD_ERRORS] = _(
                "Lo stato del bando cambia solo con i pulsanti delle sue fasi."
            )
        if stored.rules_frozen:
            for name in changed:
                if name in self.RULE_FIELDS:
                    errors[name] = _(
                        "Il bando è pubblicato: questa regola si cambia solo con una "
                        "rettifica motivata («Rettifica del bando»)."
                    )
        return errors

    def rule_errors(self) -> dict:
        """What is inconsistent among the call's own rules, by field."""
        errors = {}
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = _("La fine della validità viene dopo l'inizio.")
        if (
            self.applications_open_at
            and self.applications_close_at
            and self.applications_close_at <= self.applications_open_at
        ):
            errors["applications_close_at"] = _("La chiusura delle domande viene dopo l'apertura.")
        if self.benefit_kind == self.BenefitKind.FIXED_BUONI and self.partial_allowed:
            errors["partial_allowed"] = _("I buoni a taglio fisso non sono frazionabili.")
        if self.benefit_kind == self.BenefitKind.VOUCHER_CARD and not self.partial_allowed:
            errors["partial_allowed"] = _("Una carta con saldo si spende in più volte.")
        for criterion in self.ranking_criterion_list:
            if criterion not in RANKING_CRITERIA:
                errors["ranking_criteria"] = _("Criterio sconosciuto: %(name)s.") % {
                    "name": criterion
                }
        return errors

    @property
    def is_public(self) -> bool:
        """Whether citizens see the call (its page, documents and shops): once published."""
        return self.status in self.PUBLIC_STATUSES

    def accepts_applications(self, now: datetime | None = None) -> bool:
        """Whether the call is published and ``now`` falls inside its application window."""
        now = now or timezone.now()
        return bool(
            self.status == self.Status.PUBLISHED
            and self.applications_open_at
            and self.applications_close_at
            and self.applications_open_at <= now <= self.applications_close_at
        )

    @property
    def ranking_criterion_list(self) -> list[str]:
        return [c.strip() for c in self.ranking_criteria.split(",") if c.strip()]

    @property
    def declaration_list(self) -> list[str]:
        return [line.strip() for line in self.declarations.splitlines() if line.strip()]

    @property
    def budget_account_key(self) -> str:
        return f"initiative:{self.pk}:budget"

    @property
    def outstanding_account_key(self) -> str:
        return f"initiative:{self.pk}:outstanding"

    @property
    def retain_until(self) -> date:
        """The last day the personal data of the call's beneficiaries is kept."""
        end = self.valid_until
        years = self.retention_years or 0
        try:
            return end.replace(year=end.year + years)
        except ValueError:  # 29 February in a year that has none
            return end.replace(year=end.year + years, day=28)


class InitiativeAmendment(models.Model):
    """One rule of a published call changed by amendment (rettifica): what, how, who, why.

    Written only by ``vouchers.services.amendments.initiative_amend``, one row per changed rule, with
    the call's historical record in the same transaction. Values are kept as stored data
    (amounts and dates as text, relations as lists of ids).
    """

    initiative = models.ForeignKey(
        Initiative, on_delete=models.PROTECT, related_name="amendments", verbose_name=_("bando")
    )
    field = models.CharField(_("regola"), max_length=50)
    old_value = models.JSONField(_("valore precedente"), null=True, blank=True)
    new_value = models.JSONField(_("nuovo valore"), null=True, blank=True)
    reason = models.TextField(_("motivo"))
    amended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("rettificato da"),
    )
    amended_at = models.DateTimeField(_("rettificato il"), default=timezone.now)

    class Meta:
        verbose_name = _("rettifica del bando")
        verbose_name_plural = _("rettifiche del bando")
        ordering = ["initiative", "amended_at", "id"]

    def __str__(self) -> str:
        return f"{self.initiative} · {self.field_label}"

    @property
    def field_label(self) -> str:
        return str(Initiative._meta.get_field(self.field).verbose_name)


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
    access_code_hash = models.CharField(
        _("codice di accesso (impronta)"), max_length=128, blank=True, default="", editable=False
    )
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)
    history = HistoricalRecords(excluded_fields=["access_code_hash"])

    class Meta:
        verbose_name = _("beneficiario")
        verbose_name_plural = _("beneficiari")
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
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
    application = models.ForeignKey(
        "Application",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="vouchers",
        verbose_name=_("domanda"),
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

    def is_usable(self, on: date | None = None) -> bool:
        """Whether the holder can spend the voucher on day ``on`` (today by default)."""
        on = on or timezone.localdate()
        return self.status == self.Status.ACTIVE and self.valid_from <= on <= self.valid_until


def initiative_document_path(instance, filename: str) -> str:
    return f"initiatives/{instance.initiative_id}/{filename}"


class InitiativeDocument(models.Model):
    """A PDF published with a call (the notice, the application form, FAQs)."""

    initiative = models.ForeignKey(
        Initiative, on_delete=models.CASCADE, related_name="documents", verbose_name=_("bando")
    )
    title = models.CharField(_("titolo"), max_length=200)
    file = models.FileField(
        _("file PDF"),
        upload_to=initiative_document_path,
        validators=[FileExtensionValidator(["pdf"])],
    )
    uploaded_at = models.DateTimeField(_("caricato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("documento del bando")
        verbose_name_plural = _("documenti del bando")
        ordering = ["initiative", "title"]

    def __str__(self) -> str:
        return self.title


class ProtocolCounter(models.Model):
    """The last protocol number given by a municipality in a year."""

    municipality = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", verbose_name=_("comune")
    )
    year = models.PositiveSmallIntegerField(_("anno"))
    last_number = models.PositiveIntegerField(_("ultimo numero"), default=0)

    class Meta:
        verbose_name = _("contatore di protocollo")
        verbose_name_plural = _("contatori di protocollo")
        constraints = [
            models.UniqueConstraint(fields=["municipality", "year"], name="protocol_counter_unique")
        ]

    def __str__(self) -> str:
        return f"{self.municipality} {self.year}: {self.last_number}"


class Application(models.Model):
    """A citizen's application (domanda) to a call."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Da istruire")
        INFO_REQUESTED = "info_requested", _("Integrazione richiesta")
        APPROVED = "approved", _("Ammessa")
        REJECTED = "rejected", _("Respinta")
        WITHDRAWN = "withdrawn", _("Ritirata")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("In attesa della graduatoria")
        FUNDED = "funded", _("Finanziata")
        WAITING = "waiting", _("In lista d'attesa")
        ISSUED = "issued", _("Beneficio erogato")

    class Channel(models.TextChoices):
        DESK = "desk", _("Sportello")
        ONLINE = "online", _("Online")
        TUTOR = "tutor", _("Tramite tutor")

    # Indexes: the foreign keys of initiative and municipality lead composite indexes of their
    # own (see Meta), and a ranking rewrites every row of a call: each needless index is one
    # more entry per rewritten row.
    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("bando"),
        db_index=False,
    )
    applicant = models.ForeignKey(
        Beneficiary,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("richiedente"),
    )
    municipality = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("comune"),
        db_index=False,
    )
    protocol_year = models.PositiveSmallIntegerField(_("anno di protocollo"))
    protocol_sequence = models.PositiveIntegerField(_("numero di protocollo"))
    channel = models.CharField(_("canale"), max_length=10, choices=Channel.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("inserita da"),
        db_index=False,
    )
    tutor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tutored_applications",
        verbose_name=_("tutor"),
        db_index=False,
    )
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    outcome = models.CharField(
        _("esito"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    submitted_at = models.DateTimeField(_("presentata il"), db_index=True)
    street = models.CharField(_("indirizzo"), max_length=200, blank=True, default="")
    postal_code = models.CharField(_("CAP"), max_length=5, blank=True, default="")
    isee = models.DecimalField(_("ISEE"), max_digits=10, decimal_places=2, null=True, blank=True)
    dsu_protocol = models.CharField(_("protocollo DSU"), max_length=40, blank=True, default="")
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, default="")
    declarations_accepted = models.JSONField(_("dichiarazioni accettate"), default=list, blank=True)
    household_flag = models.BooleanField(
        _("nucleo già presente"),
        default=False,
        help_text=_("Un componente del nucleo compare in un'altra domanda dello stesso bando."),
    )
    score_key = models.JSONField(_("chiave di graduatoria"), null=True, blank=True)
    rank = models.PositiveIntegerField(_("posizione"), null=True, blank=True)
    amount = models.DecimalField(
        _("importo riconosciuto"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    paid_at = models.DateTimeField(
        _("contributo pagato il"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Per un contributo economico: quando la banca ha eseguito il bonifico."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("domanda")
        verbose_name_plural = _("domande")
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["initiative", "applicant"], name="application_one_per_fiscal_code"
            ),
            models.UniqueConstraint(
                fields=["municipality", "protocol_year", "protocol_sequence"],
                name="application_protocol_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["initiative", "status"], name="application_initiative_status"),
            # The validators' queue: small, and untouched by rows that have left it.
            models.Index(
                fields=["-submitted_at"],
                condition=models.Q(status__in=["submitted", "info_requested"]),
                name="application_to_examine",
            ),
            # Most applications arrive online, with neither: only the others are indexed.
            models.Index(
                fields=["entered_by"],
                condition=models.Q(entered_by__isnull=False),
                name="application_entered_by",
            ),
            models.Index(
                fields=["tutor"], condition=models.Q(tutor__isnull=False), name="application_tutor"
            ),
        ]

    def __str__(self) -> str:
        return self.protocol_number

    @property
    def protocol_number(self) -> str:
        return self.protocol_for(year=self.protocol_year, sequence=self.protocol_sequence)

    @staticmethod
    def protocol_for(*, year: int, sequence: int) -> str:
        """The protocol number people read (``2026/000123``), from its two parts."""
        return f"{year}/{sequence:06d}"

    @classmethod
    def outcome_for(cls, *, status: str, outcome: str) -> tuple[str, str]:
        """The outcome people read (a stable key and its label), from status and outcome.

        ``outcome`` is written by the ranking and stays «pending» for an application the
        ranking never took in: one not yet decided is under review, a rejected or
        withdrawn one says so. Lists, the applicant's file, exports, the archive and the
        app all read it from here.
        """
        if status == cls.Status.APPROVED:
            return outcome, cls.Outcome(outcome).label
        if status in (cls.Status.SUBMITTED, cls.Status.INFO_REQUESTED):
            return "in_review", _("In istruttoria")
        return status, cls.Status(status).label

    @property
    def outcome_key(self) -> str:
        return self.outcome_for(status=self.status, outcome=self.outcome)[0]

    @property
    def outcome_label(self) -> str:
        return self.outcome_for(status=self.status, outcome=self.outcome)[1]

    @property
    def household_size(self) -> int:
        return 1 + len(self.members.all())


class HouseholdMember(models.Model):
    """Another person in the applicant's household."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="members", verbose_name=_("domanda")
    )
    fiscal_code = models.CharField(
        _("codice fiscale"), max_length=16, validators=[validate_fiscal_code]
    )
    first_name = models.CharField(_("nome"), max_length=100)
    last_name = models.CharField(_("cognome"), max_length=100)
    birth_date = models.DateField(_("data di nascita"))
    is_child = models.BooleanField(_("figlio"), default=False)

    class Meta:
        verbose_name = _("componente del nucleo")
        verbose_name_plural = _("componenti del nucleo")
        constraints = [
            models.UniqueConstraint(
                fields=["application", "fiscal_code"], name="household_member_once"
            )
        ]
        indexes = [models.Index(fields=["fiscal_code"], name="household_member_fiscal_code")]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Decision(models.Model):
    """One step of the review of an application, with who took it, when and why."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("Ammessa")
        REJECT = "reject", _("Respinta")
        REQUEST_INFO = "request_info", _("Integrazione richiesta")
        ANSWER = "answer", _("Integrazione ricevuta")
        WITHDRAW = "withdraw", _("Ritirata")

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="decisions", verbose_name=_("domanda")
    )
    action = models.CharField(_("azione"), max_length=20, choices=Action.choices)
    reason = models.TextField(_("motivazione"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("da"),
    )
    decided_at = models.DateTimeField(_("il"), auto_now_add=True)
    from_status = models.CharField(_("stato precedente"), max_length=20)
    to_status = models.CharField(_("nuovo stato"), max_length=20)

    class Meta:
        verbose_name = _("decisione")
        verbose_name_plural = _("decisioni")
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.application} · {self.get_action_display()}"


class IssuanceRun(models.Model):
    """One run of the bulk issuing of a call's vouchers, with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("In coda")
        RUNNING = "running", _("In corso")
        DONE = "done", _("Completata")
        FAILED = "failed", _("Non riuscita")

    initiative = models.ForeignKey(
        Initiative, on_delete=models.CASCADE, related_name="issuance_runs", verbose_name=_("bando")
    )
    status = models.CharField(
        _("stato"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    total = models.PositiveIntegerField(_("domande da servire"), default=0)
    done = models.PositiveIntegerField(_("domande servite"), default=0)
    vouchers_issued = models.PositiveIntegerField(_("buoni emessi"), default=0)
    error = models.TextField(_("errore"), blank=True, default="")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("avviata da"),
    )
    created_at = models.DateTimeField(_("creata il"), auto_now_add=True)
    # When the task was last handed to the queue; empty while the queue has not taken it.
    queued_at = models.DateTimeField(_("affidata alla coda il"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminata il"), null=True, blank=True)

    class Meta:
        verbose_name = _("emissione dei buoni")
        verbose_name_plural = _("emissioni dei buoni")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.initiative} · {self.get_status_display()}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.done * 100 / self.total)


def archive_export_path(instance, filename: str) -> str:
    return f"archives/{instance.initiative_id}/{filename}"


class WaitingListFunding(models.Model):
    """A scorrimento: the next applications of a ranking funded with money that came back.

    One person proposes it (which applications, for how much) and another approves it (four
    eyes); only then are the applications funded, issued if the call has issued, and told.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposto")
        APPROVED = "approved", _("Approvato")
        SUPERSEDED = "superseded", _("Sostituito")

    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="waiting_list_fundings",
        verbose_name=_("bando"),
    )
    status = models.CharField(
        _("stato"), max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    applications = models.ManyToManyField(
        Application, related_name="waiting_list_fundings", verbose_name=_("domande")
    )
    total = models.DecimalField(_("totale"), max_digits=14, decimal_places=2)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("proposto da"),
    )
    proposed_at = models.DateTimeField(_("proposto il"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approvato da"),
    )
    approved_at = models.DateTimeField(_("approvato il"), null=True, blank=True)

    class Meta:
        verbose_name = _("scorrimento della graduatoria")
        verbose_name_plural = _("scorrimenti della graduatoria")
        ordering = ["-proposed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gt=Decimal("0")), name="waiting_list_funding_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("proposed_by")),
                name="waiting_list_funding_four_eyes",
            ),
            models.UniqueConstraint(
                fields=["initiative"],
                condition=models.Q(status="proposed"),
                name="waiting_list_funding_one_proposed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative} · {self.get_status_display()}"


class ArchiveExport(models.Model):
    """A call's archive ZIP, prepared in the background and kept a few days to download.

    It holds every applicant's personal data: only staff allowed to see the call's
    applications download it, each download is counted, and the file is deleted when it
    expires (``ARCHIVE_EXPORT_KEEP_DAYS``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("In coda")
        RUNNING = "running", _("In preparazione")
        DONE = "done", _("Pronto")
        FAILED = "failed", _("Non riuscito")
        EXPIRED = "expired", _("Scaduto, file eliminato")

    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.CASCADE,
        related_name="archive_exports",
        verbose_name=_("bando"),
    )
    status = models.CharField(
        _("stato"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("richiesto da"),
    )
    created_at = models.DateTimeField(_("richiesto il"), default=timezone.now)
    started_at = models.DateTimeField(_("iniziato il"), null=True, blank=True)
    finished_at = models.DateTimeField(_("pronto il"), null=True, blank=True)
    expires_at = models.DateTimeField(_("disponibile fino al"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to=archive_export_path, blank=True, max_length=255)
    size = models.PositiveBigIntegerField(_("dimensione (byte)"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256 del file ZIP"), max_length=64, blank=True, default="")
    files_count = models.PositiveIntegerField(_("file nell'archivio"), default=0)
    missing_count = models.PositiveIntegerField(_("file mancanti"), default=0)
    error = models.TextField(_("errore"), blank=True, default="")
    downloads = models.PositiveIntegerField(_("scaricamenti"), default=0)
    last_downloaded_at = models.DateTimeField(_("ultimo scaricamento"), null=True, blank=True)
    last_downloaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ultimo scaricamento da"),
    )

    class Meta:
        verbose_name = _("archivio preparato")
        verbose_name_plural = _("archivi preparati")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["initiative", "-created_at"], name="archiveexport_initiative"),
            models.Index(
                fields=["expires_at"],
                name="archiveexport_to_purge",
                condition=models.Q(status="done"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative} · {self.get_status_display()}"

    @property
    def filename(self) -> str:
        return f"bando-{self.initiative_id}-archivio.zip"


class OutcomeTemplate(models.Model):
    """The text sent to applicants of a call for one outcome (Italian by default)."""

    class Outcome(models.TextChoices):
        FUNDED = "funded", _("Ammessa e finanziata")
        WAITING = "waiting", _("Ammessa, in lista d'attesa")
        REJECTED = "rejected", _("Respinta")
        ISSUED = "issued", _("Buoni disponibili")

    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.CASCADE,
        related_name="outcome_templates",
        verbose_name=_("bando"),
    )
    outcome = models.CharField(_("esito"), max_length=10, choices=Outcome.choices)
    subject = models.CharField(_("oggetto"), max_length=200)
    body = models.TextField(
        _("testo"),
        help_text=_(
            "Segnaposto disponibili: $nome, $protocollo, $bando, $comune, $importo, "
            "$posizione, $motivazione, $iban (le ultime 4 cifre dell'IBAN della domanda)."
        ),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("modello di comunicazione")
        verbose_name_plural = _("modelli di comunicazione")
        constraints = [
            models.UniqueConstraint(fields=["initiative", "outcome"], name="outcome_template_once")
        ]

    def __str__(self) -> str:
        return f"{self.initiative} · {self.get_outcome_display()}"


class Notification(models.Model):
    """One outcome message to an applicant, by e-mail, SMS or printed letter."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")
        LETTER = "letter", _("Lettera stampata")

    class Status(models.TextChoices):
        PENDING = "pending", _("Da inviare")
        SENT = "sent", _("Inviata")
        # An SMS given to a development backend (console, memory): it reached no phone.
        LOGGED = "logged", _("Scritta solo nel registro (ambiente di prova)")
        DELIVERED = "delivered", _("Consegnata")
        TO_PRINT = "to_print", _("Da stampare")
        PRINTED = "printed", _("Stampata")
        FAILED = "failed", _("Non riuscita")

    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("domanda"),
    )
    outcome = models.CharField(_("esito"), max_length=10, choices=OutcomeTemplate.Outcome.choices)
    channel = models.CharField(_("canale"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("destinatario"), max_length=254, blank=True, default="")
    subject = models.CharField(_("oggetto"), max_length=200)
    body = models.TextField(_("testo"))
    status = models.CharField(
        _("stato"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    error = models.CharField(_("errore"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("creata il"), auto_now_add=True)
    sent_at = models.DateTimeField(_("inviata il"), null=True, blank=True)
    # An SMS: the provider's id of the message, and when it confirmed the delivery.
    provider_id = models.CharField(
        _("codice del messaggio presso il gestore SMS"), max_length=100, blank=True, default=""
    )
    delivered_at = models.DateTimeField(_("consegnata il"), null=True, blank=True)

    class Meta:
        verbose_name = _("comunicazione")
        verbose_name_plural = _("comunicazioni")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "outcome"], name="notification_once_per_outcome"
            )
        ]

    def __str__(self) -> str:
        return f"{self.application} · {self.get_channel_display()}"


class LoginLink(models.Model):
    """A single-use, expiring link that logs a beneficiary in from his e-mail."""

    beneficiary = models.ForeignKey(
        Beneficiary,
        on_delete=models.CASCADE,
        related_name="login_links",
        verbose_name=_("beneficiario"),
    )
    token_hash = models.CharField(_("impronta"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("scade il"))
    used_at = models.DateTimeField(_("usato il"), null=True, blank=True)
    created_at = models.DateTimeField(_("creato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("link di accesso")
        verbose_name_plural = _("link di accesso")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.beneficiary} · {self.expires_at:%Y-%m-%d %H:%M}"


def application_document_path(instance, filename: str) -> str:
    return f"applications/{instance.application_id}/{filename}"


class ApplicationDocument(models.Model):
    """A file attached to an application: ISEE, identity document, an answer to a request."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="documents", verbose_name=_("domanda")
    )
    title = models.CharField(_("descrizione"), max_length=200)
    file = models.FileField(_("file"), upload_to=application_document_path)
    content_type = models.CharField(_("tipo"), max_length=50)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("caricato da"),
    )
    uploaded_at = models.DateTimeField(_("caricato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("allegato")
        verbose_name_plural = _("allegati")
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return self.title


class ReimbursementClaim(models.Model):
    """A beneficiary's request to be paid back for expenses of a reimbursement call."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Da esaminare")
        APPROVED = "approved", _("Approvata")
        PARTLY_APPROVED = "partly_approved", _("Approvata in parte")
        REJECTED = "rejected", _("Respinta")
        PAID = "paid", _("Pagata")

    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="reimbursement_claims",
        verbose_name=_("bando"),
    )
    beneficiary = models.ForeignKey(
        Beneficiary,
        on_delete=models.PROTECT,
        related_name="reimbursement_claims",
        verbose_name=_("beneficiario"),
    )
    application = models.ForeignKey(
        Application,
        on_delete=models.PROTECT,
        related_name="reimbursement_claims",
        verbose_name=_("domanda"),
    )
    status = models.CharField(
        _("stato"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    submitted_at = models.DateTimeField(_("presentata il"), auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("presentata da"),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("richiesta di rimborso")
        verbose_name_plural = _("richieste di rimborso")
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"{self.beneficiary} · {self.initiative}"

    @property
    def total_claimed(self) -> Decimal:
        return sum((e.amount for e in self.expenses.all()), Decimal("0.00"))


def expense_receipt_path(instance, filename: str) -> str:
    return f"receipts/{instance.claim_id}/{filename}"


class Expense(models.Model):
    """One receipt of a reimbursement claim, reviewed on its own."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Da esaminare")
        APPROVED = "approved", _("Ammessa")
        REDUCED = "reduced", _("Ammessa in parte")
        REFUSED = "refused", _("Non ammessa")

    claim = models.ForeignKey(
        ReimbursementClaim,
        on_delete=models.CASCADE,
        related_name="expenses",
        verbose_name=_("richiesta"),
    )
    amount = models.DecimalField(_("importo"), max_digits=10, decimal_places=2)
    spent_on = models.DateField(_("data della spesa"))
    category = models.ForeignKey(
        SpendingCategory, on_delete=models.PROTECT, related_name="+", verbose_name=_("categoria")
    )
    description = models.CharField(_("descrizione"), max_length=200, blank=True, default="")
    receipt = models.FileField(_("scontrino o fattura"), upload_to=expense_receipt_path)
    receipt_content_type = models.CharField(_("tipo del file"), max_length=50)
    status = models.CharField(
        _("esito"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    approved_amount = models.DecimalField(
        _("importo ammesso"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    refusal_reason = models.CharField(_("motivo"), max_length=255, blank=True, default="")

    class Meta:
        verbose_name = _("spesa")
        verbose_name_plural = _("spese")
        ordering = ["spent_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=Decimal("0")), name="expense_amount_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.spent_on} · {self.amount}"


class ReimbursementReview(models.Model):
    """One step of the review of a claim: an expense line judged, or the claim decided."""

    class Action(models.TextChoices):
        APPROVE = "approve", _("Spesa ammessa")
        REDUCE = "reduce", _("Spesa ridotta")
        REFUSE = "refuse", _("Spesa non ammessa")
        CAP = "cap", _("Ridotta al massimale")
        DECIDE = "decide", _("Esame chiuso")

    claim = models.ForeignKey(
        ReimbursementClaim,
        on_delete=models.CASCADE,
        related_name="reviews",
        verbose_name=_("richiesta"),
    )
    expense = models.ForeignKey(
        Expense,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reviews",
        verbose_name=_("spesa"),
    )
    action = models.CharField(_("azione"), max_length=10, choices=Action.choices)
    amount = models.DecimalField(
        _("importo ammesso"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    reason = models.CharField(_("motivo"), max_length=255, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("da"),
    )
    reviewed_at = models.DateTimeField(_("il"), default=timezone.now)
    journal = models.ForeignKey(
        "core.Journal",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrazione"),
    )

    class Meta:
        verbose_name = _("esame del rimborso")
        verbose_name_plural = _("esami dei rimborsi")
        ordering = ["reviewed_at", "id"]

    def __str__(self) -> str:
        return f"{self.claim_id} · {self.get_action_display()}"


class IncomingTransfer(models.Model):
    """The transfer a municipality makes to the agency to cover what a call pays out."""

    municipality = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="incoming_transfers",
        limit_choices_to={"kind": Organization.Kind.MUNICIPALITY},
        verbose_name=_("comune"),
    )
    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="incoming_transfers",
        verbose_name=_("bando"),
    )
    amount = models.DecimalField(_("importo"), max_digits=14, decimal_places=2)
    value_date = models.DateField(_("data valuta"))
    bank_reference = models.CharField(
        _("riferimento bancario (CRO/TRN)"), max_length=50, blank=True, default=""
    )
    note = models.CharField(_("nota"), max_length=255, blank=True, default="")
    journal = models.OneToOneField(
        "core.Journal", on_delete=models.PROTECT, related_name="+", verbose_name=_("registrazione")
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrato da"),
    )
    recorded_at = models.DateTimeField(_("registrato il"), auto_now_add=True)

    class Meta:
        verbose_name = _("trasferimento dal comune")
        verbose_name_plural = _("trasferimenti dai comuni")
        ordering = ["-value_date", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=Decimal("0")),
                name="incoming_transfer_amount_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.municipality} → {self.initiative}: {self.amount}"


class InitiativeFunding(models.Model):
    """A tranche of a call's budget and where it comes from: a contribution, or a whole fund.

    Written by ``vouchers.services.funding.initiative_funding_assign`` with the journal that moved the
    money from the fund to the call's budget.
    """

    initiative = models.ForeignKey(
        Initiative,
        on_delete=models.PROTECT,
        related_name="funding_sources",
        verbose_name=_("bando"),
    )
    fund = models.ForeignKey(
        Fund, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("fondo")
    )
    contribution = models.ForeignKey(
        "core.Contribution",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assignments",
        verbose_name=_("contributo"),
        help_text=_("Vuoto se il budget viene dal fondo nel suo insieme."),
    )
    amount = models.DecimalField(_("importo"), max_digits=14, decimal_places=2)
    priority = models.PositiveSmallIntegerField(
        _("priorità"), help_text=_("Con la regola di priorità, la fonte 1 si consuma per prima.")
    )
    journal = models.OneToOneField(
        "core.Journal",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("registrazione"),
    )
    assigned_at = models.DateTimeField(_("assegnato il"), auto_now_add=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assegnato da"),
    )

    class Meta:
        verbose_name = _("fonte di finanziamento")
        verbose_name_plural = _("fonti di finanziamento")
        ordering = ["initiative", "priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=Decimal("0")), name="initiative_funding_positive"
            )
        ]

    def __str__(self) -> str:
        origin = self.contribution.funder.name if self.contribution_id else self.fund.name
        return f"{self.priority}. {origin}"


class FundingAttribution(models.Model):
    """The part of a redeemed or reimbursed amount that one source of the call paid.

    Rows are only added: a void adds the opposite of its redemption's rows, a changed
    reimbursement the opposite of its previous rows and then its new split.
    """

    class Kind(models.TextChoices):
        REDEMPTION = "redemption", _("Utilizzo del buono")
        REDEMPTION_VOID = "redemption_void", _("Annullamento di un utilizzo")
        REIMBURSEMENT = "reimbursement", _("Rimborso di una spesa")

    source = models.ForeignKey(
        InitiativeFunding,
        on_delete=models.PROTECT,
        related_name="attributions",
        verbose_name=_("fonte"),
    )
    initiative = models.ForeignKey(
        Initiative, on_delete=models.PROTECT, related_name="+", verbose_name=_("bando")
    )
    kind = models.CharField(_("tipo"), max_length=20, choices=Kind.choices)
    journal = models.ForeignKey(
        "core.Journal",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registrazione"),
    )
    reverses = models.ForeignKey(
        "core.Journal",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("utilizzo annullato"),
    )
    expense = models.ForeignKey(
        Expense,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("spesa"),
    )
    voucher = models.ForeignKey(
        Voucher,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("buono"),
    )
    merchant_ref = models.BigIntegerField(_("esercente"), null=True, blank=True)
    municipality = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("comune"),
    )
    category = models.ForeignKey(
        SpendingCategory,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("categoria"),
    )
    amount = models.DecimalField(_("importo"), max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(_("attribuito il"), auto_now_add=True)

    class Meta:
        verbose_name = _("attribuzione a una fonte")
        verbose_name_plural = _("attribuzioni alle fonti")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["initiative", "kind"], name="attribution_initiative_kind"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount=Decimal("0")), name="attribution_not_zero"
            ),
            models.UniqueConstraint(
                fields=["source", "journal"],
                condition=models.Q(journal__isnull=False),
                name="attribution_once_per_journal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} · {self.amount}"
