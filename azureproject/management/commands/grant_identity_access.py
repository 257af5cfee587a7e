"""Give the app's managed identity access to its database, once, as an Entra administrator.

Run it with DBHOST/DBNAME set and DBUSER set to *your* Entra admin principal (signed in with
`az login`: DefaultAzureCredential then uses your Azure CLI token):

    DBUSER=admin@contoso.com python manage.py grant_identity_access --principal my-identity

It creates the identity's PostgreSQL role with `pgaadauth_create_principal` (in the `postgres`
database), grants it USAGE and CREATE on schema public of the app's database, and creates the
pg_trgm extension there (the search index needs it; an extension is the administrator's to
create, and on Azure it must be allow-listed first: deploy.sh sets `azure.extensions`). The
grant is the step the tutorial leaves out: since PostgreSQL 15, public is not writable by
everyone, so `migrate` fails without it. `--print-sql` prints the SQL for psql instead of
running it.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from psycopg import sql


def principal_sql(principal: str, object_id: str | None) -> sql.Composed:
    if object_id:
        return sql.SQL(
            "SELECT * FROM pgaadauth_create_principal_with_oid({}, {}, 'service', false, false)"
        ).format(sql.Literal(principal), sql.Literal(object_id))
    return sql.SQL("SELECT * FROM pgaadauth_create_principal({}, false, false)").format(
        sql.Literal(principal)
    )


def grant_sql(principal: str) -> list[sql.Composable]:
    """What the administrator runs in the app's database for the identity `principal`."""
    role = sql.Identifier(principal)
    return [
        # The search's trigram index (migration 0006) needs it.
        sql.SQL("CREATE EXTENSION IF NOT EXISTS pg_trgm"),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            role
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role),
    ]


class Command(BaseCommand):
    help = (
        "Create the managed identity's PostgreSQL role, grant it schema public and create the "
        "pg_trgm extension (Entra admin)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--principal", required=True, help="the identity's name (DBUSER)")
        parser.add_argument("--object-id", help="the identity's object (principal) id")
        parser.add_argument(
            "--skip-create-principal",
            action="store_true",
            help="the role exists already (or this is not Azure): only grant",
        )
        parser.add_argument("--print-sql", action="store_true", help="print the SQL, run nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        principal, object_id = options["principal"], options["object_id"]
        create = None if options["skip_create_principal"] else principal_sql(principal, object_id)
        grants = grant_sql(principal)

        if options["print_sql"]:
            # Quoted by psycopg without a connection: nothing needs to be configured or up.
            database = (
                connection.settings_dict["NAME"] if connection.vendor == "postgresql" else None
            )
            if create is not None:
                self.stdout.write("-- in database postgres:")
                self.stdout.write(create.as_string(None) + ";")
            self.stdout.write(f"-- in the app's database{f' ({database})' if database else ''}:")
            for statement in grants:
                self.stdout.write(statement.as_string(None) + ";")
            return

        if connection.vendor != "postgresql":
            raise CommandError(
                "grant_identity_access needs PostgreSQL (set DBHOST, DBNAME, DBUSER)."
            )
        database = connection.settings_dict["NAME"]

        try:
            if create is not None:
                with connection._nodb_cursor() as cursor:
                    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [principal])
                    if cursor.fetchone():
                        self.stdout.write(f"Role {principal} exists already.")
                    else:
                        cursor.execute(create)
                        self.stdout.write(f"Created role {principal} for the managed identity.")
            with connection.cursor() as cursor:
                for statement in grants:
                    cursor.execute(statement)
        except DatabaseError as exc:
            raise CommandError(f"Could not grant access to {principal}: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Granted {principal} USAGE and CREATE on schema public of {database}, "
                "with the pg_trgm extension."
            )
        )
