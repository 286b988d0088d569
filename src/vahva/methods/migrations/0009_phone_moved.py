"""The phone's models now belong to the phone app (its own package): state only, the tables
stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('methods', '0008_webauthn_moved'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='phonecall',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='phonecall',
                    name='pending',
                ),
                migrations.RemoveField(
                    model_name='phonecall',
                    name='registered',
                ),
                migrations.RemoveField(
                    model_name='phonecall',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='phonecode',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='phonecode',
                    name='pending',
                ),
                migrations.RemoveField(
                    model_name='phonecode',
                    name='registered',
                ),
                migrations.RemoveField(
                    model_name='phonecode',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='phonesend',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='phonesend',
                    name='user',
                ),
                migrations.DeleteModel(
                    name='PhoneSendLock',
                ),
                migrations.DeleteModel(
                    name='PhoneCall',
                ),
                migrations.DeleteModel(
                    name='PhoneCode',
                ),
                migrations.DeleteModel(
                    name='PhoneSend',
                ),
            ],
        ),
    ]
