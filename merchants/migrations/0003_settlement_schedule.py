from django.db import migrations, models

FREQUENCY_CHOICES = [
    ("daily", "Ogni giorno"),
    ("weekly", "Ogni settimana"),
    ("on_demand", "Su richiesta"),
]
WEEKDAY_CHOICES = [
    (0, "Lunedì"),
    (1, "Martedì"),
    (2, "Mercoledì"),
    (3, "Giovedì"),
    (4, "Venerdì"),
    (5, "Sabato"),
    (6, "Domenica"),
]
FREQUENCY_HELP = (
    "Ogni giorno o ogni settimana: la liquidazione programmata della notte paga gli utilizzi "
    "fino al giorno prima. Su richiesta: solo dall'amministrazione o dal comando."
)


def frequency_field():
    return models.CharField(
        choices=FREQUENCY_CHOICES,
        default="on_demand",
        help_text=FREQUENCY_HELP,
        max_length=10,
        verbose_name="frequenza delle liquidazioni",
    )


def weekday_field():
    return models.PositiveSmallIntegerField(
        choices=WEEKDAY_CHOICES,
        default=0,
        help_text="Conta solo per le liquidazioni settimanali.",
        verbose_name="giorno della liquidazione settimanale",
    )


class Migration(migrations.Migration):
    dependencies = [("merchants", "0002_settlement_payment_line")]

    operations = [
        migrations.AddField(
            model_name="historicalmerchant",
            name="settlement_frequency",
            field=frequency_field(),
        ),
        migrations.AddField(
            model_name="historicalmerchant",
            name="settlement_weekday",
            field=weekday_field(),
        ),
        migrations.AddField(
            model_name="merchant",
            name="settlement_frequency",
            field=frequency_field(),
        ),
        migrations.AddField(
            model_name="merchant",
            name="settlement_weekday",
            field=weekday_field(),
        ),
        migrations.AddConstraint(
            model_name="merchant",
            constraint=models.CheckConstraint(
                condition=models.Q(("settlement_weekday__lte", 6)),
                name="merchant_settlement_weekday_valid",
            ),
        ),
    ]
