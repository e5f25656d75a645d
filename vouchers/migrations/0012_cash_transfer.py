from django.db import migrations, models

BENEFIT_KINDS = [
    ("voucher_card", "Carta con saldo (spesa frazionabile)"),
    ("fixed_buoni", "Buoni a taglio fisso"),
    ("reimbursement", "Rimborso di spese sostenute"),
    ("cash_transfer", "Contributo economico (bonifico)"),
]
TEMPLATE_HELP = (
    "Segnaposto disponibili: $nome, $protocollo, $bando, $comune, $importo, $posizione, "
    "$motivazione, $iban (le ultime 4 cifre dell'IBAN della domanda)."
)


def paid_at():
    return models.DateTimeField(
        blank=True,
        editable=False,
        help_text="Per un contributo economico: quando la banca ha eseguito il bonifico.",
        null=True,
        verbose_name="contributo pagato il",
    )


def benefit_kind():
    return models.CharField(
        choices=BENEFIT_KINDS,
        default="voucher_card",
        max_length=20,
        verbose_name="tipo di beneficio",
    )


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0010_retention_archive")]

    operations = [
        migrations.AddField(model_name="application", name="paid_at", field=paid_at()),
        migrations.AddField(model_name="historicalapplication", name="paid_at", field=paid_at()),
        migrations.AlterField(model_name="initiative", name="benefit_kind", field=benefit_kind()),
        migrations.AlterField(
            model_name="historicalinitiative", name="benefit_kind", field=benefit_kind()
        ),
        migrations.AlterField(
            model_name="outcometemplate",
            name="body",
            field=models.TextField(help_text=TEMPLATE_HELP, verbose_name="testo"),
        ),
        migrations.AlterField(
            model_name="historicaloutcometemplate",
            name="body",
            field=models.TextField(help_text=TEMPLATE_HELP, verbose_name="testo"),
        ),
    ]
