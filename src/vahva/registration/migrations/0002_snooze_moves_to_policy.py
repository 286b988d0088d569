# The Snooze model moves to the policy app with its table (no data copied): the state only.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0001_snooze"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Snooze")],
            database_operations=[],
        ),
    ]
