from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0007_reimbursement_claims"), ("core", "0003_funding_donations")]

    operations = []
