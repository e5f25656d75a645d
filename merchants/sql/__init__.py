"""The SQL bodies that merchants installs in PostgreSQL, one file each, and their installer.

A file holds one ``CREATE OR REPLACE FUNCTION`` statement whose body sits between ``$fn$``
marks. The migrations install it with ``sql_install``; the one that installs a file's current
text records the digest of its body. To change a body:

1. edit the file;
2. add a migration whose operation is ``sql_install("<file>", digest="<new digest>")``
   (``python -c 'from merchants.sql import body_digest; print(body_digest("<file>"))'``),
   so that a database already migrated gets the new text, as a new one does;
3. if the function's arguments or results change, ``CREATE OR REPLACE`` cannot replace it:
   give ``sql_install`` the ``DROP FUNCTION`` of the old signature as ``drop_first``, and keep
   the old text in the earlier migrations that need it.

``tests/merchants/test_sql_files.py`` checks that the newest migration installing each file
recorded the digest of the file's body, and on PostgreSQL that the function in the database is
the file's body.
"""

import hashlib
from pathlib import Path

from django.db import migrations

SQL_DIR = Path(__file__).resolve().parent
BODY_MARK = "$fn$"


def sql_text(name: str) -> str:
    """The whole text of a file of this directory."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def function_body(name: str) -> str:
    """The function's body: the text between the ``$fn$`` marks, as PostgreSQL keeps it."""
    text = sql_text(name)
    start = text.index(BODY_MARK) + len(BODY_MARK)
    return text[start : text.index(BODY_MARK, start)]


def body_digest(name: str) -> str:
    return hashlib.sha256(function_body(name).encode()).hexdigest()


def sql_install(
    name: str, *, digest: str | None = None, drop_first: str = "", reverse_sql: str = ""
) -> migrations.RunPython:
    """A migration's operation that runs a file of this directory on PostgreSQL.

    ``digest`` is the body's digest when the migration was written (checked by the tests, not
    here: a database migrating from zero must get through every migration). SQLite has no
    such functions: the operation does nothing there.
    """

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            if drop_first:
                schema_editor.execute(drop_first)
            schema_editor.execute(sql_text(name))

    def uninstall(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql" and reverse_sql:
            schema_editor.execute(reverse_sql)

    install.sql_file = name  # type: ignore[attr-defined]
    install.sql_digest = digest  # type: ignore[attr-defined]
    return migrations.RunPython(install, uninstall, elidable=False)
