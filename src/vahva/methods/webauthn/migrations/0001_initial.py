"""WebAuthnCredential and WebAuthnChallenge move here from the methods app with their tables:
state only, no data copied (the tables keep their names)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('methods', '0007_recoverycode_moved'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='WebAuthnChallenge',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('scope', models.CharField(blank=True, default='', max_length=100)),
                        ('challenge', models.CharField(max_length=100, unique=True)),
                        ('created_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField(db_index=True)),
                        ('used', models.BooleanField(default=False)),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={'db_table': 'methods_webauthnchallenge'},
                ),
                migrations.CreateModel(
                    name='WebAuthnCredential',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('lookup', models.CharField(max_length=64, unique=True)),
                        ('credential_id', models.TextField()),
                        ('public_key', models.TextField()),
                        ('transports', models.JSONField(blank=True, default=list)),
                        ('aaguid', models.CharField(blank=True, default='', max_length=36)),
                        ('backup_eligible', models.BooleanField(default=False)),
                        ('backed_up', models.BooleanField(default=False)),
                        ('discoverable', models.BooleanField(blank=True, null=True)),
                        ('user_verified', models.BooleanField(default=False)),
                        ('registered', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='webauthn', to='methods.registeredmethod')),
                    ],
                    options={'db_table': 'methods_webauthncredential'},
                ),
            ],
        ),
    ]
