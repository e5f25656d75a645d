"""State changes of the shared core: the ledger, funds and contributions."""

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import itemgetter

from django.db import connections, router, transaction
from django.db.models import Field, JSONField, Model
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.models import Account, Contribution, Fund, Journal, Organization, Posting
from core.money import ZERO, positive_euro


class LedgerError(DomainError):
    messages = {
        "unbalanced_journal": _("La registrazione contabile non è in pareggio."),
        "invalid_posting": _("Ogni riga ha un importo diverso da zero, con due decimali."),
    }


@dataclass(frozen=True, slots=True)
class Line:
    """One line to post: an account (by key), a signed amount and optional tags."""

    account_key: str
    amount: Decimal
    account_kind: str
    account_name: str = ""
    voucher_ref: int | None = None
    merchant_ref: int | None = None


def fund_account_line(*, fund: Fund, amount: Decimal) -> Line:
    return Line(f"fund:{fund.pk}", amount, Account.Kind.FUND, f"Fondo {fund.name}")


def _accounts_for(lines: Sequence[Line]) -> dict[str, int]:
    wanted = {line.account_key: line for line in lines}
    found = dict(Account.objects.filter(key__in=wanted).values_list("key", "id"))
    missing = [key for key in wanted if key not in found]
    if missing:
        Account.objects.bulk_create(
            [
                Account(
                    key=key,
                    kind=wanted[key].account_kind,
                    name=wanted[key].account_name or key,
                )
                for key in missing
            ],
            ignore_conflicts=True,
        )
        found.update(Account.objects.filter(key__in=missing).values_list("key", "id"))
    return found


# --- Large inserts ------------------------------------------------------------------------
# Issuing a call writes a voucher and a posting per beneficiary. Above a few hundred rows,
# PostgreSQL's COPY takes them several times faster than INSERT; small writes (a
# redemption's two postings) keep the ordinary path.

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


def _copy_supported(model: type[Model]) -> bool:
    """Whether the model's rows can go through COPY with their values as they are."""
    if connections[router.db_for_write(model)].vendor != "postgresql":
        return False
    return all(
        field.get_internal_type() in _COPY_FIELD_TYPES
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
        for field in model._meta.concrete_fields
    )


def copy_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Insert rows (values in ``columns`` order, as psycopg adapts them) with COPY."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(column).column) for column in columns)
    # wrap_database_errors: a failed COPY raises IntegrityError and co., as execute() does.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def bulk_insert(objs: Sequence[Model], *, batch_size: int = 2000) -> list[Model]:
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
        or not _copy_supported(model)
        or opts.pk.get_internal_type() not in ("AutoField", "BigAutoField")
        or any(obj.pk is not None for obj in objs)
    ):
        return model.objects.bulk_create(objs, batch_size=batch_size)
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


def bulk_set(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence]) -> None:
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
    targets = [opts.get_field(name) for name in fields]

    def converter(field: Field) -> Callable | None:
        if field.get_internal_type() in _COPY_FIELD_TYPES:
            return None  # psycopg and sqlite3 take the value as it is
        if postgresql and isinstance(field, JSONField):
            # COPY reads JSON text; None stays SQL NULL, as the ORM stores it.
            return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
        return lambda value: field.get_db_prep_save(value, connection)

    converters = [converter(field) for field in targets]

    def prepared(row: Sequence) -> list:
        values = [row[0]]
        for convert, value in zip(converters, row[1:], strict=True):
            values.append(value if convert is None else convert(value))
        return values

    # In primary-key order: the table's pages are visited in order, and concurrent writers
    # lock rows in the same order.
    rows = sorted(rows, key=itemgetter(0))
    table = quote(opts.db_table)
    pk = quote(opts.pk.column)
    with transaction.atomic(using=connection.alias, savepoint=False):
        with connection.cursor() as cursor:
            if not postgresql:
                assignments = ", ".join(f"{quote(field.column)} = %s" for field in targets)
                cursor.executemany(
                    f"UPDATE {table} SET {assignments} WHERE {pk} = %s",
                    ([*values[1:], values[0]] for values in map(prepared, rows)),
                )
                return
            scratch = quote(f"bulk_set_{opts.db_table}")
            columns = ", ".join(
                f"{quote(field.column)} {field.db_type(connection)}" for field in targets
            )
            cursor.execute(
                f"CREATE TEMPORARY TABLE {scratch} ({pk} {opts.pk.rel_db_type(connection)}, "
                f"{columns}) ON COMMIT DROP"
            )
            names = ", ".join(quote(field.column) for field in targets)
            with (
                connection.wrap_database_errors,
                cursor.copy(f"COPY {scratch} ({pk}, {names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(prepared(row))
            assignments = ", ".join(
                f"{quote(field.column)} = {scratch}.{quote(field.column)}" for field in targets
            )
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM {scratch} WHERE {table}.{pk} = {scratch}.{pk}"
            )
            cursor.execute(f"DROP TABLE {scratch}")


def journal_post(
    *,
    kind: str,
    lines: Sequence[Line],
    memo: str = "",
    created_by=None,
) -> Journal:
    """Record a balanced journal; refuse one whose lines do not sum to zero."""
    if not lines:
        raise LedgerError("unbalanced_journal")
    total = ZERO
    cent = Decimal("0.01")
    for line in lines:
        if line.amount == ZERO or line.amount != line.amount.quantize(cent):
            raise LedgerError("invalid_posting")
        total += line.amount
    if total != ZERO:
        raise LedgerError("unbalanced_journal")
    # Callers post inside their own transaction (a redemption, a void…) and let any error
    # roll it back whole: a savepoint would only add two round trips to every movement.
    with transaction.atomic(savepoint=False):
        accounts = _accounts_for(lines)
        journal = Journal.objects.create(kind=kind, memo=memo[:255], created_by=created_by)
        if len(lines) >= COPY_MIN_ROWS and _copy_supported(Posting):
            # An issue of thousands of vouchers: stream the postings, no model instances.
            copy_rows(
                Posting,
                ["journal_id", "account_id", "amount", "voucher_ref", "merchant_ref"],
                (
                    (
                        journal.pk,
                        accounts[line.account_key],
                        line.amount,
                        line.voucher_ref,
                        line.merchant_ref,
                    )
                    for line in lines
                ),
            )
        else:
            Posting.objects.bulk_create(
                [
                    Posting(
                        journal=journal,
                        account_id=accounts[line.account_key],
                        amount=line.amount,
                        voucher_ref=line.voucher_ref,
                        merchant_ref=line.merchant_ref,
                    )
                    for line in lines
                ]
            )
    return journal


class FundError(DomainError):
    messages = {
        "not_a_funder": _("Solo un finanziatore o un comune può versare un contributo."),
        "insufficient_fund": _("Il fondo non ha abbastanza disponibilità."),
    }


def contribution_record(
    *,
    fund: Fund,
    funder: Organization,
    amount: Decimal | str,
    received_on: date,
    document_reference: str = "",
    recorded_by=None,
) -> Contribution:
    """Record money a funder put into a fund, with its ledger entry."""
    amount = positive_euro(amount)
    if funder.kind not in (Organization.Kind.FUNDER, Organization.Kind.MUNICIPALITY):
        raise FundError("not_a_funder")
    with transaction.atomic():
        journal = journal_post(
            kind=Journal.Kind.CONTRIBUTION,
            lines=[
                Line(
                    f"funder:{funder.pk}:source",
                    -amount,
                    Account.Kind.FUNDER_SOURCE,
                    f"Contributi di {funder.name}",
                ),
                fund_account_line(fund=fund, amount=amount),
            ],
            memo=f"{funder.name}: {document_reference}",
            created_by=recorded_by,
        )
        return Contribution.objects.create(
            fund=fund,
            funder=funder,
            amount=amount,
            received_on=received_on,
            document_reference=document_reference,
            journal=journal,
        )
