"""A redemption in one round trip on PostgreSQL: ``bc_voucher_redeem``.

``merchants.services.redemption.voucher_redeem`` calls it on PostgreSQL; it does, in the one
statement's transaction, what the ORM path does on SQLite in about ten: the Idempotency-Key
lookup, the voucher's row lock, the checks under the lock, the balance, the journal with its
two postings, the redemption and the key's record (and the shop's ledger account at its first
redemption). It writes nothing when it refuses. The test
``tests/merchants/test_redeem_function.py`` runs both paths on the same cases and compares
every row they write.

The function's text is ``merchants/sql/voucher_redeem.sql``. This migration first installed it
with the text written here; that text differed from the file's only in its comments, and the
function's signature has not changed since, so a database migrating from zero installs the file
here too (PostgreSQL checks the tables a PL/pgSQL body names only when it runs). Migration 0009
installs the file again on databases migrated before it.
"""

from django.db import migrations

from merchants.sql import sql_install

DROP = (
    "DROP FUNCTION IF EXISTS bc_voucher_redeem(bigint, text, integer, bigint, text, numeric, "
    "text, text, date, timestamptz)"
)


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0004_admin_scale"),
        ("core", "0004_beneficiary_payments"),
        ("vouchers", "0014_admin_scale"),
    ]

    operations = [sql_install("voucher_redeem.sql", reverse_sql=DROP)]
