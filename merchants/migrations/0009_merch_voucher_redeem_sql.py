"""``bc_voucher_redeem`` from ``merchants/sql/voucher_redeem.sql``.

The body's comments now name the redemption's rules (R1-R8, in the docstring of
``merchants.services.redemption``); what the function does is unchanged. Going back leaves
this text in place: the one before differed only in its comments.
"""

from django.db import migrations

from merchants.sql import sql_install


class Migration(migrations.Migration):
    dependencies = [("merchants", "0008_closed_idempotency_keys")]

    operations = [
        sql_install(
            "voucher_redeem.sql",
            digest="7ef900ebbadaeec5b1c82265eb22de39be1896dd3af6b5b32f3c1fd18f41f048",
        )
    ]
