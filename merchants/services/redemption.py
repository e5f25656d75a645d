"""A voucher spent at a shop, exactly once per Idempotency-Key, and the look-up of a key.

The rules of a redemption, in the order they are applied. Two paths apply them: on SQLite
``_redeem_with_orm`` and ``_redeem_locked`` through the ORM, on PostgreSQL the database function
``bc_voucher_redeem`` (``merchants/sql/voucher_redeem.sql``) in one round trip. Both cite these
numbers; ``tests/merchants/test_redeem_function.py`` holds them to the same answers and rows.

R1. A till's device key revoked since the caller authenticated it (the fast lane keeps keys a
    few seconds) is refused, ``authentication_failed``. Only the database function needs the
    step: the ORM path runs in the request that authenticated the key.
R2. A key this shop already answered gives the first answer again, debiting nothing
    (``replayed``); with another code or amount it is refused, ``idempotency_key_reused``;
    a key that a look-up closed (``idempotency_key_resolve``), ``idempotency_key_closed``.
R3. The till's guard (``till_guard``): a suspended shop, ``merchant_suspended``; a shop not
    accredited, ``merchant_not_accredited``.
R4. The voucher is found by its code, ``voucher_not_found`` otherwise, and its row stays
    locked until the transaction ends.
R5. Under the lock, in this order (``voucher_usability_error``): ``voucher_revoked``;
    ``voucher_expired`` (expired, or its last day passed); ``voucher_not_yet_valid``;
    ``voucher_exhausted`` (exhausted, or no balance left); ``merchant_not_in_circuit`` (the
    shop is accredited and sells a category the call allows in one of its municipalities).
R6. The amount: none given spends the whole balance, which a voucher that allows partial
    spending refuses (``invalid_amount``); a voucher that does not takes only its whole
    balance (``partial_not_allowed``); never more than the balance (``insufficient_balance``).
R7. The writes, in one transaction: the balance less the amount (``exhausted`` at zero), a
    ``redemption`` journal of two postings (the call's outstanding vouchers less, the shop's
    payable more; either account created if missing), the confirmed redemption and the key's
    record. A refusal writes nothing.
R8. A request with the same key that committed while this one waited for the lock makes the
    key's record fail (its unique constraint), or this one refused: it then answers as that
    request did (R2).
"""

import functools
import hashlib
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from core.models import Journal
from core.money import ZERO, format_euro
from core.services.ledger import journal_post
from merchants.errors import RedemptionError
from merchants.models import CLOSED_KEY_HASH, IdempotencyRecord, Merchant, Redemption
from merchants.selectors import merchant_in_circuit, merchant_redemption_by_idempotency_key
from merchants.services.tills import Till, parse_amount, parse_code, payable_line, till_guard
from vouchers.models import Beneficiary, Voucher
from vouchers.services.budget import outstanding_line


@dataclass(frozen=True, slots=True)
class RedemptionResult:
    redemption: Redemption
    replayed: bool


def voucher_usability_error(*, voucher: Voucher, merchant: Merchant) -> RedemptionError | None:
    """Return why this shop cannot take this voucher today, or None (R5, in its order)."""
    today = timezone.localdate()
    if voucher.status == Voucher.Status.REVOKED:
        return RedemptionError("voucher_revoked")
    if voucher.status == Voucher.Status.EXPIRED or voucher.valid_until < today:
        return RedemptionError("voucher_expired")
    if voucher.valid_from > today:
        return RedemptionError(
            "voucher_not_yet_valid", date=voucher.valid_from.strftime("%d/%m/%Y")
        )
    if voucher.status == Voucher.Status.EXHAUSTED or voucher.balance <= ZERO:
        return RedemptionError("voucher_exhausted")
    if not merchant_in_circuit(merchant_id=merchant.pk, initiative_id=voucher.initiative_id):
        return RedemptionError("merchant_not_in_circuit")
    return None


def _request_hash(code: str, amount: Decimal | None) -> str:
    return hashlib.sha256(f"{code}|{amount if amount is not None else ''}".encode()).hexdigest()


def _replay(*, merchant: Merchant, key: str, request_hash: str) -> RedemptionResult | None:
    # Nearly every request brings a new key: look it up with a small query (two columns of
    # one table, no ORDER BY), and load the redemption to answer with only on a retry.
    found = list(
        IdempotencyRecord.objects.filter(merchant=merchant, key=key)
        .values_list("request_hash", "redemption_id")
        .order_by()[:1]
    )
    if not found:
        return None
    stored_hash, redemption_id = found[0]
    if stored_hash == CLOSED_KEY_HASH:
        raise RedemptionError("idempotency_key_closed")
    if stored_hash != request_hash:
        raise RedemptionError("idempotency_key_reused")
    redemption = Redemption.objects.select_related("voucher__beneficiary").get(pk=redemption_id)
    return RedemptionResult(redemption=redemption, replayed=True)


def idempotency_key_resolve(*, till: Till, key: str) -> Redemption | None:
    """The sale this shop recorded under a till's Idempotency-Key, or None: then never one.

    A till that lost the answer to a sale asks before selling again. When no sale is recorded
    the key is closed in the same transaction (a record without a redemption), so a request
    with it still on its way, held up in a proxy or a busy worker, is refused when it arrives
    and the answer "nothing was charged" stays true. The key's unique constraint orders the
    two: a sale that recorded the key first is found and returned instead.
    """
    if not key or len(key) > 255:
        raise RedemptionError("idempotency_key_missing")
    merchant_id = till.merchant.pk
    with transaction.atomic():
        redemption = merchant_redemption_by_idempotency_key(merchant_id=merchant_id, key=key)
        if redemption is not None:
            return redemption
        # On PostgreSQL the insert waits for a sale with this key that has not committed yet
        # and then does nothing if it did; the read after it sees that sale.
        IdempotencyRecord.objects.bulk_create(
            [IdempotencyRecord(merchant_id=merchant_id, key=key, request_hash=CLOSED_KEY_HASH)],
            ignore_conflicts=True,
        )
        return merchant_redemption_by_idempotency_key(merchant_id=merchant_id, key=key)


def _key_closed(*, merchant: Merchant, key: str) -> bool:
    return IdempotencyRecord.objects.filter(
        merchant=merchant, key=key, request_hash=CLOSED_KEY_HASH
    ).exists()


def voucher_redeem(
    *,
    till: Till,
    code: str,
    amount: Decimal | str | None,
    idempotency_key: str,
) -> RedemptionResult:
    """Spend an amount of a voucher at a shop, exactly once per Idempotency-Key.

    The voucher row is locked, the rules are checked again under the lock, then the
    balance, the redemption and its ledger entry are written in one transaction. A retry
    with the same key and body returns the first redemption and debits nothing; a key that a
    look-up closed (``idempotency_key_resolve``) is refused with ``idempotency_key_closed``.
    The rules are R1-R8 of this module's docstring.
    """
    if not idempotency_key or len(idempotency_key) > 255:
        raise RedemptionError("idempotency_key_missing")
    code = parse_code(code)
    amount = None if amount is None else parse_amount(amount)
    request_hash = _request_hash(code, amount)

    redeem = _redeem_in_database if connection.vendor == "postgresql" else _redeem_with_orm
    return redeem(
        till=till,
        code=code,
        amount=amount,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


def _redeem_with_orm(
    *,
    till: Till,
    code: str,
    amount: Decimal | None,
    idempotency_key: str,
    request_hash: str,
) -> RedemptionResult:
    # The rules R1-R8 of this module's docstring; R1 is the caller's authentication.
    merchant = till.merchant
    replay = _replay(merchant=merchant, key=idempotency_key, request_hash=request_hash)  # R2
    if replay is not None:
        return replay
    till_guard(till=till)  # R3
    try:
        with transaction.atomic():
            return _redeem_locked(
                till=till,
                code=code,
                amount=amount,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
    except (RedemptionError, IntegrityError):
        # R8. Another request with the same key may have committed while this one waited for
        # the voucher's lock: answer as it did instead of refusing or debiting twice. A
        # look-up that closed the key first makes this the refusal idempotency_key_closed.
        replay = _replay(merchant=merchant, key=idempotency_key, request_hash=request_hash)
        if replay is not None:
            return replay
        raise


# On PostgreSQL a redemption is one statement: ``bc_voucher_redeem``
# (merchants/sql/voucher_redeem.sql) applies the rules R1-R8 of this module's docstring, as
# ``_redeem_with_orm`` does above, in one round trip instead of about ten.
_VOUCHER_ERRORS = {
    "voucher_revoked",
    "voucher_expired",
    "voucher_not_yet_valid",
    "voucher_exhausted",
    "merchant_not_in_circuit",
}


# The parameters are sent apart from the statement (server-side binding) and the statement is
# prepared once per connection: PostgreSQL neither parses nor plans it again, and psycopg
# does not quote ten values into SQL for every sale. The casts fix the types the function's
# signature names whatever Python type a value has.
_REDEEM_SQL = (
    "SELECT * FROM bc_voucher_redeem(%s::bigint, %s::text, %s::integer, %s::bigint, %s::text,"
    " %s::numeric, %s::text, %s::text, %s::date, %s::timestamptz)"
)


# from_db takes the fields in the model's order.
_BENEFICIARY_FIELDS = ["id", "first_name", "last_name"]
_VOUCHER_FIELDS = ["id"]
_REDEMPTION_FIELDS = [
    "id",
    "voucher_id",
    "merchant_id",
    "amount",
    "balance_after",
    "status",
    "created_at",
    "cashier_id",
    "device_id",
    "voided_at",
    "journal_id",
]


# Django opens PostgreSQL connections with prepared statements off (``prepare_threshold``
# None, for connection poolers that cannot keep them). A threshold no statement reaches
# keeps every other statement unprepared and lets this one be prepared by name.
_NEVER_BY_COUNT = 2**31 - 1


@functools.cache
def _preparing_cursor_class() -> type[Any]:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(
            self,
            query: Any,
            params: Any = None,
            *,
            prepare: bool | None = None,
            binary: bool | None = None,
        ) -> Any:
            # django-stubs give ServerBindingCursor no psycopg cursor base: no execute to call.
            return super().execute(query, params, prepare=True, binary=binary)  # type: ignore[misc]

    return PreparingCursor


def _prepared_cursor() -> CursorWrapper:
    """A Django cursor (execute wrappers, error translation, query log) that prepares."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _NEVER_BY_COUNT
        cursor = _preparing_cursor_class()(raw)
    # Private to Django's connection, so absent from django-stubs.
    prepared: CursorWrapper = connection._prepare_cursor(cursor)  # type: ignore[attr-defined]
    return prepared


def _redeem_in_database(
    *,
    till: Till,
    code: str,
    amount: Decimal | None,
    idempotency_key: str,
    request_hash: str,
) -> RedemptionResult:
    """Redeem through ``bc_voucher_redeem``."""
    merchant = till.merchant
    try:
        till_guard(till=till)
        guard_error = None
    except RedemptionError as refusal:
        guard_error = refusal.code
    user_id = getattr(till.user, "pk", None)
    params = [
        merchant.pk,
        guard_error,
        user_id,
        till.device.pk if till.device is not None else None,
        code,
        amount,
        idempotency_key,
        request_hash,
        timezone.localdate(),
        timezone.now(),
    ]
    try:
        # Inside a caller's transaction the statement needs a savepoint, so that a
        # refused key does not break it; alone it is its own transaction.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            with _prepared_cursor() as cursor:
                cursor.execute(_REDEEM_SQL, params)
                row = cursor.fetchone()
    except IntegrityError:
        # Another request with the same key committed first: answer as it did (or a look-up
        # closed the key first: refused with idempotency_key_closed).
        replay = _replay(merchant=merchant, key=idempotency_key, request_hash=request_hash)
        if replay is None:
            raise
        return replay
    (
        outcome,
        redemption_id,
        voucher_id,
        spent,
        balance,
        created_at,
        status,
        voided_at,
        first_name,
        last_name,
        valid_from,
        cashier_id,
        device_id,
        journal_id,
    ) = row
    if outcome in ("redeemed", "replayed"):
        # Instances as the ORM loads them, with the fields the function returned; any other
        # field loads on first use.
        beneficiary = Beneficiary.from_db(
            connection.alias, _BENEFICIARY_FIELDS, [None, first_name, last_name]
        )
        voucher = Voucher.from_db(connection.alias, _VOUCHER_FIELDS, [voucher_id])
        voucher._state.fields_cache["beneficiary"] = beneficiary
        redemption = Redemption.from_db(
            connection.alias,
            _REDEMPTION_FIELDS,
            [
                redemption_id,
                voucher_id,
                merchant.pk,
                spent,
                balance,
                status,
                created_at,
                cashier_id,
                device_id,
                voided_at,
                journal_id,
            ],
        )
        redemption._state.fields_cache.update(voucher=voucher, merchant=merchant)
        return RedemptionResult(redemption=redemption, replayed=outcome == "replayed")
    # A closed key's hash matches no request, so the function answers it as a reused key:
    # told apart here, on that rare answer only.
    if outcome == "idempotency_key_reused" and _key_closed(merchant=merchant, key=idempotency_key):
        raise RedemptionError("idempotency_key_closed")
    if outcome in ("idempotency_key_reused", "authentication_failed"):
        raise RedemptionError(outcome)
    # A refusal. A request with the same key may have committed while this one waited for
    # the voucher's lock (and spent it): answer as that request did.
    replay = _replay(merchant=merchant, key=idempotency_key, request_hash=request_hash)
    if replay is not None:
        return replay
    if outcome == "voucher_not_yet_valid":
        error = RedemptionError(outcome, date=valid_from.strftime("%d/%m/%Y"))
    elif outcome in ("partial_not_allowed", "insufficient_balance"):
        error = RedemptionError(outcome, balance=format_euro(balance))
    else:
        error = RedemptionError(outcome)
    if outcome in _VOUCHER_ERRORS:
        error.voucher = Voucher(pk=voucher_id)
    raise error


def _redeem_locked(
    *,
    till: Till,
    code: str,
    amount: Decimal | None,
    idempotency_key: str,
    request_hash: str,
) -> RedemptionResult:
    """R4 to R7 of this module's docstring, inside the caller's transaction."""
    merchant = till.merchant
    try:  # R4
        voucher = (
            Voucher.objects.select_for_update(of=("self",))
            .select_related("beneficiary")
            .get(code=code)
        )
    except Voucher.DoesNotExist:
        raise RedemptionError("voucher_not_found") from None
    error = voucher_usability_error(voucher=voucher, merchant=merchant)  # R5
    if error is not None:
        error.voucher = voucher
        raise error
    balance = voucher.balance
    if amount is None:  # R6
        if voucher.partial_allowed:
            raise RedemptionError("invalid_amount")
        amount = balance
    if not voucher.partial_allowed and amount != balance:
        raise RedemptionError("partial_not_allowed", balance=format_euro(balance))
    if amount > balance:
        raise RedemptionError("insufficient_balance", balance=format_euro(balance))

    voucher.balance = balance - amount  # R7
    if voucher.balance == ZERO:
        voucher.status = Voucher.Status.EXHAUSTED
    voucher.save(update_fields=["balance", "status"])
    journal = journal_post(
        kind=Journal.Kind.REDEMPTION,
        lines=[
            outstanding_line(
                initiative_id=voucher.initiative_id, voucher_id=voucher.pk, amount=-amount
            ),
            payable_line(merchant_id=merchant.pk, amount=amount, voucher_id=voucher.pk),
        ],
        memo=f"{merchant.name} · {voucher.code_hint}",
        created_by=till.user,
    )
    redemption = Redemption.objects.create(
        voucher=voucher,
        merchant=merchant,
        amount=amount,
        balance_after=voucher.balance,
        created_at=timezone.now(),
        cashier=till.user,
        device=till.device,
        journal=journal,
    )
    IdempotencyRecord.objects.create(
        merchant=merchant, key=idempotency_key, request_hash=request_hash, redemption=redemption
    )
    return RedemptionResult(redemption=redemption, replayed=False)
