from decimal import Decimal

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0008_funding_sources"),
        ("core", "0004_beneficiary_payments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReimbursementReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("approve", "Spesa ammessa"),
                            ("reduce", "Spesa ridotta"),
                            ("refuse", "Spesa non ammessa"),
                            ("cap", "Ridotta al massimale"),
                            ("decide", "Esame chiuso"),
                        ],
                        max_length=10,
                        verbose_name="azione",
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        max_digits=10,
                        null=True,
                        verbose_name="importo ammesso",
                    ),
                ),
                (
                    "reason",
                    models.CharField(blank=True, default="", max_length=255, verbose_name="motivo"),
                ),
                (
                    "reviewed_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="il"),
                ),
                (
                    "claim",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reviews",
                        to="vouchers.reimbursementclaim",
                        verbose_name="richiesta",
                    ),
                ),
                (
                    "expense",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reviews",
                        to="vouchers.expense",
                        verbose_name="spesa",
                    ),
                ),
                (
                    "journal",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.journal",
                        verbose_name="registrazione",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="da",
                    ),
                ),
            ],
            options={
                "verbose_name": "esame del rimborso",
                "verbose_name_plural": "esami dei rimborsi",
                "ordering": ["reviewed_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="IncomingTransfer",
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
                ("value_date", models.DateField(verbose_name="data valuta")),
                (
                    "bank_reference",
                    models.CharField(
                        blank=True,
                        default="",
                        max_length=50,
                        verbose_name="riferimento bancario (CRO/TRN)",
                    ),
                ),
                (
                    "note",
                    models.CharField(blank=True, default="", max_length=255, verbose_name="nota"),
                ),
                (
                    "recorded_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="registrato il"),
                ),
                (
                    "initiative",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incoming_transfers",
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
                (
                    "municipality",
                    models.ForeignKey(
                        limit_choices_to={"kind": "municipality"},
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="incoming_transfers",
                        to="core.organization",
                        verbose_name="comune",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="registrato da",
                    ),
                ),
            ],
            options={
                "verbose_name": "trasferimento dal comune",
                "verbose_name_plural": "trasferimenti dai comuni",
                "ordering": ["-value_date", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount__gt", Decimal("0"))),
                        name="incoming_transfer_amount_positive",
                    )
                ],
            },
        ),
    ]
