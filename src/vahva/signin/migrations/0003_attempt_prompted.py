from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("signin", "0002_remembered_device"),
    ]

    operations = [
        # Attempts already under way may have a request waiting on a phone: they count as
        # prompted (their finish withdraws it, as before); new ones start without.
        migrations.AddField(
            model_name="signinattempt",
            name="prompted",
            field=models.BooleanField(default=True),
        ),
        migrations.AlterField(
            model_name="signinattempt",
            name="prompted",
            field=models.BooleanField(default=False),
        ),
    ]
