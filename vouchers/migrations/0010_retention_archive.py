import django.core.validators
from django.db import migrations, models


def _retention_years():
    return models.PositiveSmallIntegerField(
        default=10,
        help_text=(
            "Contati dalla fine della validità del bando. Passato il termine, i dati personali "
            "dei beneficiari del bando archiviato sono anonimizzati; importi e conteggi restano."
        ),
        validators=[
            django.core.validators.MinValueValidator(1),
            django.core.validators.MaxValueValidator(100),
        ],
        verbose_name="anni di conservazione dei dati personali",
    )


def _personal_data_erased_at():
    return models.DateTimeField(
        blank=True, editable=False, null=True, verbose_name="dati personali anonimizzati il"
    )


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0009_reimbursement_review")]

    operations = [
        migrations.AddField(
            model_name="historicalinitiative",
            name="personal_data_erased_at",
            field=_personal_data_erased_at(),
        ),
        migrations.AddField(
            model_name="historicalinitiative",
            name="retention_years",
            field=_retention_years(),
        ),
        migrations.AddField(
            model_name="initiative",
            name="personal_data_erased_at",
            field=_personal_data_erased_at(),
        ),
        migrations.AddField(
            model_name="initiative",
            name="retention_years",
            field=_retention_years(),
        ),
    ]
