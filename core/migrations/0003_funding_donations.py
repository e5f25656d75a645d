from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("core", "0002_payment_batches")]

    operations = []
