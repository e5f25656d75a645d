"""Indexes for the admin's lists of redemptions at the scale of a large city.

Plain SQL rather than ``Meta.indexes``: they serve the admin's filters and orderings only.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("merchants", "0003_settlement_schedule"), ("vouchers", "0014_admin_scale")]

    operations = [
        # The redemptions of one status (voided, confirmed), newest first.
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS merchants_redemption_status_created "
            "ON merchants_redemption (status, created_at)",
            "DROP INDEX IF EXISTS merchants_redemption_status_created",
        ),
    ]
