"""PhoneCode, PhoneCall, PhoneSend and PhoneSendLock move here from the methods app with their
tables: state only, no data copied (the tables keep their names)."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('gateways', '0002_phone_outbox'),
        ('methods', '0009_phone_moved'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='PhoneSendLock',
                    fields=[
                        ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                    ],
                    options={
                        'db_table': 'methods_phonesendlock',
                    },
                ),
                migrations.CreateModel(
                    name='PhoneCall',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('attempt', models.CharField(blank=True, default='', max_length=64)),
                        ('number', models.CharField(max_length=20)),
                        ('state', models.CharField(default='calling', max_length=16)),
                        ('created_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField()),
                        ('service', models.CharField(blank=True, default='', max_length=200)),
                        ('ip', models.GenericIPAddressField(blank=True, null=True)),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.outboxmessage')),
                        ('pending', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='methods.pendingenrolment')),
                        ('registered', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='methods.registeredmethod')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'methods_phonecall',
                        'indexes': [models.Index(fields=['user', 'created_at'], name='methods_pho_user_id_e1d287_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='PhoneCode',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('attempt', models.CharField(blank=True, default='', max_length=64)),
                        ('number', models.CharField(max_length=20)),
                        ('salt', models.CharField(max_length=32)),
                        ('digest', models.CharField(max_length=64)),
                        ('created_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField()),
                        ('tries', models.PositiveSmallIntegerField(default=0)),
                        ('used', models.BooleanField(default=False)),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.outboxmessage')),
                        ('pending', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='methods.pendingenrolment')),
                        ('registered', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='methods.registeredmethod')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'methods_phonecode',
                        'indexes': [models.Index(fields=['user', 'created_at'], name='methods_pho_user_id_b464de_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='PhoneSend',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('at', models.DateTimeField(db_index=True)),
                        ('number', models.CharField(max_length=20)),
                        ('country', models.CharField(max_length=4)),
                        ('ip', models.GenericIPAddressField(blank=True, null=True)),
                        ('channel', models.CharField(max_length=8)),
                        ('message', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='gateways.outboxmessage')),
                        ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'methods_phonesend',
                        'indexes': [models.Index(fields=['number', 'at'], name='methods_pho_number_802217_idx'), models.Index(fields=['user', 'at'], name='methods_pho_user_id_179c3a_idx'), models.Index(fields=['ip', 'at'], name='methods_pho_ip_f594b0_idx'), models.Index(fields=['country', 'at'], name='methods_pho_country_529e9b_idx')],
                    },
                ),
            ],
        ),
    ]
