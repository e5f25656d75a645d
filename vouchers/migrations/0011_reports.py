from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0010_retention_archive")]

    operations = []
