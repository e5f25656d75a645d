"""Fewer, smaller indexes on applications, and room in their pages for a ranking's rewrite.

A ranking (and an issue) rewrites every application of a call. PostgreSQL writes the new
version of a row in the same page when there is room and no indexed column changed (a
"HOT" update, no index entry at all); otherwise every index of the table gets an entry.
The foreign-key indexes of initiative and municipality duplicate the leading column of
composite indexes, the status index is replaced by a partial one on the validators' queue,
and most applications have no desk operator nor tutor.

Pages half full leave room for the new version of every row in its own page: ranking
200,000 applications measured 2.1–2.7 s with ``fillfactor = 50`` (every update HOT) against
7–12 s with 70 (half of them HOT). The table takes about 40 % more pages at rest, as much as
one ranking makes it grow anyway. ``fillfactor`` only shapes pages written from now on: see
docs/deploy.md for rewriting an existing table.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STATUS_CHOICES = [
    ("submitted", "Da istruire"),
    ("info_requested", "Integrazione richiesta"),
    ("approved", "Ammessa"),
    ("rejected", "Respinta"),
    ("withdrawn", "Ritirata"),
]


def _set_fillfactor(value: int | None):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return  # a PostgreSQL storage parameter; SQLite has no equivalent
        if value is None:
            schema_editor.execute("ALTER TABLE vouchers_application RESET (fillfactor)")
        else:
            schema_editor.execute(
                f"ALTER TABLE vouchers_application SET (fillfactor = {int(value)})"
            )

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_beneficiary_payments"),
        ("vouchers", "0012_cash_transfer"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="application",
            name="entered_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="inserita da",
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="initiative",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="applications",
                to="vouchers.initiative",
                verbose_name="bando",
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="municipality",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="applications",
                to="core.organization",
                verbose_name="comune",
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="submitted", max_length=20, verbose_name="stato"
            ),
        ),
        migrations.AlterField(
            model_name="application",
            name="tutor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="tutored_applications",
                to=settings.AUTH_USER_MODEL,
                verbose_name="tutor",
            ),
        ),
        migrations.AlterField(
            model_name="historicalapplication",
            name="status",
            field=models.CharField(
                choices=STATUS_CHOICES, default="submitted", max_length=20, verbose_name="stato"
            ),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(
                condition=models.Q(("status__in", ["submitted", "info_requested"])),
                fields=["-submitted_at"],
                name="application_to_examine",
            ),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(
                condition=models.Q(("entered_by__isnull", False)),
                fields=["entered_by"],
                name="application_entered_by",
            ),
        ),
        migrations.AddIndex(
            model_name="application",
            index=models.Index(
                condition=models.Q(("tutor__isnull", False)),
                fields=["tutor"],
                name="application_tutor",
            ),
        ),
        migrations.RunPython(_set_fillfactor(50), _set_fillfactor(None), elidable=False),
    ]
