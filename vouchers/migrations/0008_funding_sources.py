from decimal import Decimal

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

ATTRIBUTION_RULE = models.CharField(
    choices=[
        ("pro_rata", "In proporzione agli importi delle fonti"),
        ("priority", "In ordine di priorità delle fonti"),
    ],
    default="pro_rata",
    help_text=(
        "Come ogni euro speso o rimborsato si divide tra le fonti di finanziamento: in "
        "proporzione agli importi assegnati, o consumando prima la fonte di priorità 1."
    ),
    max_length=10,
    verbose_name="regola di attribuzione alle fonti",
)


def _nullable_fk(to, verbose_name, related_name="+", **kwargs):
    return models.ForeignKey(
        blank=True,
        null=True,
        on_delete=django.db.models.deletion.PROTECT,
        related_name=related_name,
        to=to,
        verbose_name=verbose_name,
        **kwargs,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0007_reimbursement_claims"),
        ("core", "0003_funding_donations"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalinitiative",
            name="attribution_rule",
            field=ATTRIBUTION_RULE.clone(),
        ),
        migrations.AddField(
            model_name="initiative",
            name="attribution_rule",
            field=ATTRIBUTION_RULE.clone(),
        ),
        migrations.CreateModel(
            name="InitiativeFunding",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=14, verbose_name="importo"),
                ),
                (
                    "priority",
                    models.PositiveSmallIntegerField(
                        help_text="Con la regola di priorità, la fonte 1 si consuma per prima.",
                        verbose_name="priorità",
                    ),
                ),
                (
                    "assigned_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="assegnato il"),
                ),
                (
                    "assigned_by",
                    _nullable_fk(settings.AUTH_USER_MODEL, "assegnato da"),
                ),
                (
                    "contribution",
                    _nullable_fk(
                        "core.contribution",
                        "contributo",
                        related_name="assignments",
                        help_text="Vuoto se il budget viene dal fondo nel suo insieme.",
                    ),
                ),
                (
                    "fund",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assignments",
                        to="core.fund",
                        verbose_name="fondo",
                    ),
                ),
                (
                    "initiative",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="funding_sources",
                        to="vouchers.initiative",
                        verbose_name="bando",
                    ),
                ),
                (
                    "journal",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.journal",
                        verbose_name="registrazione",
                    ),
                ),
            ],
            options={
                "verbose_name": "fonte di finanziamento",
                "verbose_name_plural": "fonti di finanziamento",
                "ordering": ["initiative", "priority", "id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount__gt", Decimal("0"))),
                        name="initiative_funding_positive",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="FundingAttribution",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("redemption", "Utilizzo del buono"),
                            ("redemption_void", "Annullamento di un utilizzo"),
                            ("reimbursement", "Rimborso di una spesa"),
                        ],
                        max_length=20,
                        verbose_name="tipo",
                    ),
                ),
                (
                    "merchant_ref",
                    models.BigIntegerField(blank=True, null=True, verbose_name="esercente"),
                ),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=14, verbose_name="importo"),
                ),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="attribuito il"),
                ),
                ("category", _nullable_fk("vouchers.spendingcategory", "categoria")),
                ("expense", _nullable_fk("vouchers.expense", "spesa")),
                (
                    "initiative",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="vouchers.initiative",
                        verbose_name="bando",
                    ),
                ),
                ("journal", _nullable_fk("core.journal", "registrazione")),
                ("municipality", _nullable_fk("core.organization", "comune")),
                ("reverses", _nullable_fk("core.journal", "utilizzo annullato")),
                ("voucher", _nullable_fk("vouchers.voucher", "buono")),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="attributions",
                        to="vouchers.initiativefunding",
                        verbose_name="fonte",
                    ),
                ),
            ],
            options={
                "verbose_name": "attribuzione a una fonte",
                "verbose_name_plural": "attribuzioni alle fonti",
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["initiative", "kind"], name="attribution_initiative_kind")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount", Decimal("0")), _negated=True),
                        name="attribution_not_zero",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("journal__isnull", False)),
                        fields=("source", "journal"),
                        name="attribution_once_per_journal",
                    ),
                ],
            },
        ),
    ]
