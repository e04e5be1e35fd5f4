import django.db.models.deletion
from django.db import migrations, models

# An organisation is a training sandbox or a real centre for its whole life: the database itself
# refuses to change the flag, whatever code or bulk update asks.
SQLITE_UP = """
CREATE TRIGGER accounts_organisation_sandbox_fixed
BEFORE UPDATE OF sandbox ON accounts_organisation
FOR EACH ROW WHEN NEW.sandbox <> OLD.sandbox
BEGIN SELECT RAISE(ABORT, 'an organisation cannot become or stop being a training sandbox'); END
"""
SQLITE_DOWN = "DROP TRIGGER IF EXISTS accounts_organisation_sandbox_fixed"
POSTGRES_UP = [
    """
CREATE FUNCTION accounts_organisation_sandbox_fixed() RETURNS trigger AS $$
BEGIN
  IF NEW.sandbox IS DISTINCT FROM OLD.sandbox THEN
    RAISE EXCEPTION 'an organisation cannot become or stop being a training sandbox';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER accounts_organisation_sandbox_fixed
BEFORE UPDATE OF sandbox ON accounts_organisation
FOR EACH ROW EXECUTE FUNCTION accounts_organisation_sandbox_fixed()
""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS accounts_organisation_sandbox_fixed ON accounts_organisation",
    "DROP FUNCTION IF EXISTS accounts_organisation_sandbox_fixed()",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_centre_contacts"),
    ]

    operations = [
        migrations.AddField(
            model_name="organisation",
            name="sandbox",
            field=models.BooleanField(default=False, editable=False, verbose_name="training sandbox"),
        ),
        migrations.AddField(
            model_name="organisation",
            name="training_for",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="accounts.organisation",
            ),
        ),
        migrations.RunPython(
            _run({"sqlite": [SQLITE_UP], "postgresql": POSTGRES_UP}),
            _run({"sqlite": [SQLITE_DOWN], "postgresql": POSTGRES_DOWN}),
        ),
    ]
