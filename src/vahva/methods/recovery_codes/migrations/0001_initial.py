"""RecoveryCode moves here from the methods app with its table: state only, no data copied
(the table keeps its name, methods_recoverycode)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('methods', '0006_phone_outbox'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='RecoveryCode',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('index', models.CharField(blank=True, default='', max_length=2)),
                        ('salt', models.CharField(max_length=32)),
                        ('digest', models.CharField(max_length=64)),
                        ('used_at', models.DateTimeField(blank=True, null=True)),
                        ('registered', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='recovery_codes', to='methods.registeredmethod')),
                    ],
                    options={'db_table': 'methods_recoverycode'},
                ),
            ],
        ),
    ]
