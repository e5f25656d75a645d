from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0008_funding_sources"), ("core", "0004_beneficiary_payments")]

    operations = []
