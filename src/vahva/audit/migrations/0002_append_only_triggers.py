"""Make the audit table append-only in the database itself, not only in the application.

An attacker (or a buggy script) with SQL access through the application's connection cannot
rewrite what happened. Setting actor/subject to NULL stays possible, so that a person can be
deleted; the e-mail address kept in ``subject_email`` preserves the trail. PostgreSQL also
refuses DELETE (retention purges go through TRUNCATE of old partitions or an admin role).
SQLite refuses UPDATE; Django's test flush there uses DELETE, so DELETE is refused by the
application layer (AuditQuerySet) instead.
"""

from django.db import migrations

CONTENT = "at, action, outcome, subject_email, ip, user_agent, reason, data"

SQLITE_FORWARD = [
    f"""CREATE TRIGGER audit_auditevent_append_only BEFORE UPDATE OF {CONTENT}
        ON audit_auditevent BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS audit_auditevent_append_only"]

POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION audit_auditevent_refuse() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE OF {CONTENT}
        ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse()""",
    """CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE
        ON audit_auditevent FOR EACH ROW EXECUTE FUNCTION audit_auditevent_refuse()""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update ON audit_auditevent",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_auditevent_refuse()",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        )
    ]
