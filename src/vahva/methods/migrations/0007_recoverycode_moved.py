"""RecoveryCode now belongs to the recovery_codes app (its own package): state only, the table
stays where it is."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('methods', '0006_phone_outbox'),
        ('recovery_codes', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name='RecoveryCode')],
        ),
    ]
