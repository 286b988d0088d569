"""WebAuthnCredential and WebAuthnChallenge now belong to the webauthn app (its own package):
state only, the tables stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('methods', '0007_recoverycode_moved'),
        ('webauthn', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='WebAuthnCredential'),
                migrations.DeleteModel(name='WebAuthnChallenge'),
            ],
        ),
    ]
