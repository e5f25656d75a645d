from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0009_reimbursement_review")]

    operations = []
