"""Indexes for the admin's lists at the scale of a large city.

Plain SQL rather than ``Meta.indexes``: they serve the admin's orderings and searches only,
and the trigram index exists on PostgreSQL alone (SQLite has no ``pg_trgm``).
"""

from django.db import migrations

TRIGRAM_INDEX = "vouchers_beneficiary_last_name_upper_trgm"


def trigram_index_create(apps, schema_editor):
    # The admin's surname search is ``UPPER(last_name) LIKE UPPER('%term%')``: a trigram
    # index on that expression serves it instead of a scan of every citizen.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON vouchers_beneficiary "
        "USING gin (UPPER(last_name::text) gin_trgm_ops)"
    )


def trigram_index_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0013_application_indexes")]

    operations = [
        # The residents of one municipality in the list's order (surname, name).
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS vouchers_beneficiary_town_name "
            "ON vouchers_beneficiary (municipality_id, last_name, first_name)",
            "DROP INDEX IF EXISTS vouchers_beneficiary_town_name",
        ),
        # The outcome messages, newest first.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS vouchers_notification_created_at "
            "ON vouchers_notification (created_at)",
            "DROP INDEX IF EXISTS vouchers_notification_created_at",
        ),
        migrations.RunPython(trigram_index_create, trigram_index_drop),
    ]
