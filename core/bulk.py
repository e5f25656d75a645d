"""Large writes: COPY for thousands of new rows, and many rows updated in a few statements.

Not use cases: the services that issue a call or post a large journal call them.
Issuing a call writes a voucher and a posting per beneficiary. Above a few hundred rows,
PostgreSQL's COPY takes them several times faster than INSERT; small writes (a
redemption's two postings) keep the ordinary path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field, JSONField, Model

COPY_MIN_ROWS = 500
_COPY_FIELD_TYPES = {
    "AutoField",
    "BigAutoField",
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "SmallIntegerField",
    "TextField",
}


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    """One of the model's own fields, with a column (not a reverse relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return field


def _column(model: type[Model], name: str) -> str:
    column = _field(model, name).column
    assert column  # checked by _field
    return column


def copy_supported(model: type[Model]) -> bool:
    """Whether the model's rows can go through COPY with their values as they are."""
    if connections[router.db_for_write(model)].vendor != "postgresql":
        return False
    return all(
        field.get_internal_type() in _COPY_FIELD_TYPES
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
        for field in model._meta.concrete_fields
    )


def copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert rows (values in ``columns`` order, as psycopg adapts them) with COPY."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(_column(model, column)) for column in columns)
    # wrap_database_errors: a failed COPY raises IntegrityError and co., as execute() does.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def bulk_insert[M: Model](objs: Sequence[M], *, batch_size: int = 2000) -> list[M]:
    """Save new instances like ``bulk_create`` (primary keys set, no signals), fast.

    On PostgreSQL, a large batch takes its primary keys from the table's sequence in one
    query and goes in with COPY; otherwise, and for models with fields whose values need
    preparing (JSON, auto_now), it is ``bulk_create``.
    """
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    opts = model._meta
    if (
        len(objs) < COPY_MIN_ROWS
        or not copy_supported(model)
        or opts.pk.get_internal_type() not in ("AutoField", "BigAutoField")
        or any(obj.pk is not None for obj in objs)
    ):
        return model._default_manager.bulk_create(objs, batch_size=batch_size)
    connection = connections[router.db_for_write(model)]
    attnames = [field.attname for field in opts.concrete_fields]
    try:
        with transaction.atomic(using=connection.alias, savepoint=False):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [opts.db_table, opts.pk.column, len(objs)],
                )
                for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                    obj.pk = pk
            copy_rows(model, attnames, ([getattr(obj, name) for name in attnames] for obj in objs))
    except Exception:
        for obj in objs:
            obj.pk = None  # as bulk_create leaves them when the insert fails
        raise
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def bulk_set(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``fields`` on many rows, each given as ``(pk, value, …)``, in a few statements.

    ``bulk_update`` builds one ``CASE WHEN pk = …`` per field and batch, which the database
    evaluates row by row: quadratic in the batch size. Here PostgreSQL gets the values with
    COPY into a temporary table and one ``UPDATE … FROM``; other databases one prepared
    ``UPDATE`` per row (``executemany``, which SQLite runs in-process).
    """
    connection = connections[router.db_for_write(model)]
    postgresql = connection.vendor == "postgresql"
    quote = connection.ops.quote_name
    opts = model._meta
    columns = [_column(model, name) for name in fields]
    targets = [_field(model, name) for name in fields]

    def converter(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
        if field.get_internal_type() in _COPY_FIELD_TYPES:
            return None  # psycopg and sqlite3 take the value as it is
        if postgresql and isinstance(field, JSONField):
            # COPY reads JSON text; None stays SQL NULL, as the ORM stores it.
            return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
        return lambda value: field.get_db_prep_save(value, connection)

    converters = [converter(field) for field in targets]

    def prepared(row: Sequence[Any]) -> list[Any]:
        values = [row[0]]
        for convert, value in zip(converters, row[1:], strict=True):
            values.append(value if convert is None else convert(value))
        return values

    # In primary-key order: the table's pages are visited in order, and concurrent writers
    # lock rows in the same order.
    rows = sorted(rows, key=itemgetter(0))
    table = quote(opts.db_table)
    pk = quote(_column(model, opts.pk.name))
    with transaction.atomic(using=connection.alias, savepoint=False):
        with connection.cursor() as cursor:
            if not postgresql:
                assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
                cursor.executemany(
                    f"UPDATE {table} SET {assignments} WHERE {pk} = %s",
                    [[*values[1:], values[0]] for values in map(prepared, rows)],
                )
                return
            scratch = quote(f"bulk_set_{opts.db_table}")
            definitions = ", ".join(
                f"{quote(column)} {field.db_type(connection)}"
                for column, field in zip(columns, targets, strict=True)
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {scratch} ({pk} {opts.pk.rel_db_type(connection)}, "
                f"{definitions}) ON COMMIT DROP"
            )
            names = ", ".join(quote(column) for column in columns)
            with (
                connection.wrap_database_errors,
                cursor.copy(f"COPY {scratch} ({pk}, {names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(prepared(row))
            assignments = ", ".join(
                f"{quote(column)} = {scratch}.{quote(column)}" for column in columns
            )
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {scratch} WHERE {table}.{pk} = {scratch}.{pk}"
            )
            cursor.execute(f"DROP TABLE {scratch}")
