from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("merchants", "0002_settlement_payment_line")]

    operations = []
