import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0002_payment_batches")]

    operations = [
        migrations.CreateModel(
            name="ReceiptCounter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("year", models.PositiveSmallIntegerField(unique=True, verbose_name="anno")),
                (
                    "last_number",
                    models.PositiveIntegerField(default=0, verbose_name="ultimo numero"),
                ),
            ],
            options={
                "verbose_name": "numeratore delle ricevute",
                "verbose_name_plural": "numeratori delle ricevute",
            },
        ),
        migrations.AddField(
            model_name="contribution",
            name="donor_address",
            field=models.CharField(
                blank=True, default="", max_length=200, verbose_name="indirizzo del donatore"
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="donor_fiscal_code",
            field=models.CharField(
                blank=True, default="", max_length=16, verbose_name="codice fiscale del donatore"
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="donor_name",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Nome e cognome (o denominazione) di chi dona: solo per le donazioni.",
                max_length=200,
                verbose_name="donatore",
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="import_fingerprint",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                max_length=64,
                verbose_name="impronta del file importato",
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="loyalty_points",
            field=models.PositiveBigIntegerField(
                blank=True, editable=False, null=True, verbose_name="punti fedeltà"
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="loyalty_rate",
            field=models.DecimalField(
                blank=True,
                decimal_places=6,
                editable=False,
                max_digits=12,
                null=True,
                verbose_name="euro per punto",
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="purpose",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Per che cosa è dato il contributo; compare sulla ricevuta.",
                max_length=200,
                verbose_name="causale",
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="receipt_number",
            field=models.PositiveIntegerField(
                blank=True, editable=False, null=True, verbose_name="numero della ricevuta"
            ),
        ),
        migrations.AddField(
            model_name="contribution",
            name="receipt_year",
            field=models.PositiveSmallIntegerField(
                blank=True, editable=False, null=True, verbose_name="anno della ricevuta"
            ),
        ),
        migrations.AddConstraint(
            model_name="contribution",
            constraint=models.UniqueConstraint(
                condition=models.Q(("receipt_number__isnull", False)),
                fields=("receipt_year", "receipt_number"),
                name="contribution_receipt_number_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="contribution",
            constraint=models.UniqueConstraint(
                condition=models.Q(("import_fingerprint", ""), _negated=True),
                fields=("import_fingerprint",),
                name="contribution_import_fingerprint_unique",
            ),
        ),
        migrations.CreateModel(
            name="LoyaltyPointsLine",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("row_number", models.PositiveIntegerField(verbose_name="riga")),
                ("earned_on", models.DateField(verbose_name="data")),
                (
                    "store_reference",
                    models.CharField(max_length=100, verbose_name="punto vendita"),
                ),
                ("points", models.PositiveBigIntegerField(verbose_name="punti")),
                (
                    "contribution",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="loyalty_lines",
                        to="core.contribution",
                        verbose_name="contributo",
                    ),
                ),
            ],
            options={
                "verbose_name": "riga di punti fedeltà",
                "verbose_name_plural": "righe di punti fedeltà",
                "ordering": ["contribution", "row_number"],
            },
        ),
    ]
