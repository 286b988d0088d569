# The Snooze model comes from the registration app with its table (no data copied): the
# state only; the table registration_snooze stays as it is.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("policy", "0001_initial"),
        ("registration", "0002_snooze_moves_to_policy"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Snooze",
                    fields=[
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="+",
                                serialize=False,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        ("count", models.PositiveSmallIntegerField(default=0)),
                        ("until", models.DateTimeField()),
                    ],
                    options={"db_table": "registration_snooze"},
                ),
            ],
            database_operations=[],
        ),
    ]
