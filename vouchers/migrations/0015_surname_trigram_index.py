"""A trigram index on beneficiaries' surnames, for the admin's searches on PostgreSQL.

The admin searches applications, outcome letters, claims and beneficiaries by surname with
``icontains``, which PostgreSQL runs as ``UPPER(last_name) LIKE UPPER('%term%')``: without
this index, a scan of every beneficiary joined to every application. The index is on the
same expression, so the planner finds the few matching people first. pg_trgm is a trusted
extension: the database's owner can create it. SQLite has neither and needs neither.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS beneficiary_last_name_trgm ON vouchers_beneficiary"
    " USING gin (UPPER(last_name::text) gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS beneficiary_last_name_trgm"]


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0014_admin_scale")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
