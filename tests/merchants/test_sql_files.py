"""The SQL bodies of merchants/sql/ are the functions the migrations install.

A body changed in its file without a migration that installs it again would reach a new
database (which migrates from zero) but not one already migrated: the newest migration that
installs a file must record the digest of the file's body, and on PostgreSQL the function in
the database must be that body.
"""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from merchants.sql import SQL_DIR, body_digest, function_body

FUNCTIONS = {"voucher_redeem.sql": "bc_voucher_redeem"}


def installing_migrations(name: str) -> list[tuple[str, str | None]]:
    """The migrations that install a file, oldest first, with the digest each recorded."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = loader.graph.forwards_plan(("merchants", loader.graph.leaf_nodes("merchants")[0][1]))
    found = []
    for key in plan:
        if key[0] != "merchants":
            continue
        for operation in loader.graph.nodes[key].operations:
            code = getattr(operation, "code", None)
            if getattr(code, "sql_file", None) == name:
                found.append((key[1], code.sql_digest))
    return found


def test_every_file_of_the_sql_directory_is_known():
    assert {path.name for path in SQL_DIR.glob("*.sql")} == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_newest_migration_installing_a_file_recorded_its_body(name):
    migrations = installing_migrations(name)
    assert migrations, f"no migration installs {name}"
    newest, digest = migrations[-1]
    assert digest == body_digest(name), (
        f"{name} changed after migration {newest} installed it: add a migration with "
        f'sql_install("{name}", digest="{body_digest(name)}") (see merchants/sql/__init__.py)'
    )


@pytest.mark.postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_function_in_the_database_is_the_files_body(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [FUNCTIONS[name]])
        bodies = [row[0] for row in cursor.fetchall()]
    assert bodies == [function_body(name)]
