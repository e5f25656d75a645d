-- bc_voucher_redeem: a redemption in one round trip on PostgreSQL.
--
-- merchants.services.redemption.voucher_redeem calls it on PostgreSQL; it applies the
-- redemption's rules R1-R8, named once in the docstring of merchants.services.redemption,
-- which _redeem_locked applies through the ORM on SQLite. It writes nothing when it refuses.
--
-- Installed by the migrations through merchants.sql.sql_install. Changing the function's
-- body needs a new migration that installs it again with the new digest (see
-- merchants/sql/__init__.py): tests/merchants/test_sql_files.py fails until there is one.

CREATE OR REPLACE FUNCTION bc_voucher_redeem(
    p_merchant_id bigint,
    p_guard_error text,
    p_user_id integer,
    p_device_id bigint,
    p_code text,
    p_amount numeric,
    p_key text,
    p_hash text,
    p_today date,
    p_now timestamptz,
    OUT o_outcome text,
    OUT o_redemption_id bigint,
    OUT o_voucher_id bigint,
    OUT o_amount numeric,
    OUT o_balance numeric,
    OUT o_created_at timestamptz,
    OUT o_status text,
    OUT o_voided_at timestamptz,
    OUT o_first_name text,
    OUT o_last_name text,
    OUT o_valid_from date,
    OUT o_cashier_id integer,
    OUT o_device_id bigint,
    OUT o_journal_id bigint
)
LANGUAGE plpgsql
AS $fn$
DECLARE
    v record;
    known record;
    spend numeric;
    outstanding_id bigint;
    payable_id bigint;
    journal_id bigint;
    shop_name text;
BEGIN
    -- R1. A till's key revoked since the caller read it (the fast lane keeps keys a few
    -- seconds): refused before anything else, as the authentication would refuse it.
    IF p_device_id IS NOT NULL THEN
        PERFORM 1 FROM merchants_devicekey d
         WHERE d.id = p_device_id AND d.merchant_id = p_merchant_id AND d.revoked_at IS NULL;
        IF NOT FOUND THEN
            o_outcome := 'authentication_failed';
            RETURN;
        END IF;
    END IF;

    -- R2. A retry with a key already answered: the first answer again, or a refusal when
    -- the body differs (a closed key's digest matches no body: the caller tells it apart).
    SELECT i.request_hash, i.redemption_id INTO known
      FROM merchants_idempotencyrecord i
     WHERE i.merchant_id = p_merchant_id AND i.key = p_key;
    IF FOUND THEN
        IF known.request_hash <> p_hash THEN
            o_outcome := 'idempotency_key_reused';
            RETURN;
        END IF;
        SELECT 'replayed', r.id, r.voucher_id, r.amount, r.balance_after, r.created_at,
               r.status, r.voided_at, b.first_name, b.last_name, r.cashier_id, r.device_id,
               r.journal_id
          INTO o_outcome, o_redemption_id, o_voucher_id, o_amount, o_balance, o_created_at,
               o_status, o_voided_at, o_first_name, o_last_name, o_cashier_id, o_device_id,
               o_journal_id
          FROM merchants_redemption r
          JOIN vouchers_voucher vv ON vv.id = r.voucher_id
          JOIN vouchers_beneficiary b ON b.id = vv.beneficiary_id
         WHERE r.id = known.redemption_id;
        RETURN;
    END IF;

    -- R3. The till's guard, decided by the caller (merchants.services.tills.till_guard).
    IF p_guard_error IS NOT NULL THEN
        o_outcome := p_guard_error;
        RETURN;
    END IF;

    -- R4. The voucher by its code, its row locked until the statement's transaction ends.
    SELECT vv.id, vv.balance, vv.status, vv.partial_allowed, vv.valid_from, vv.valid_until,
           vv.initiative_id, vv.code, b.first_name, b.last_name
      INTO v
      FROM vouchers_voucher vv
      JOIN vouchers_beneficiary b ON b.id = vv.beneficiary_id
     WHERE vv.code = p_code
       FOR UPDATE OF vv;
    IF NOT FOUND THEN
        o_outcome := 'voucher_not_found';
        RETURN;
    END IF;
    o_voucher_id := v.id;
    o_balance := v.balance;

    -- R5, in the order of merchants.services.redemption.voucher_usability_error.
    IF v.status = 'revoked' THEN
        o_outcome := 'voucher_revoked';
        RETURN;
    END IF;
    IF v.status = 'expired' OR v.valid_until < p_today THEN
        o_outcome := 'voucher_expired';
        RETURN;
    END IF;
    IF v.valid_from > p_today THEN
        o_outcome := 'voucher_not_yet_valid';
        o_valid_from := v.valid_from;
        RETURN;
    END IF;
    IF v.status = 'exhausted' OR v.balance <= 0 THEN
        o_outcome := 'voucher_exhausted';
        RETURN;
    END IF;
    SELECT s.name INTO shop_name
      FROM merchants_merchant s
      WHERE s.id = p_merchant_id
        AND s.status = 'accredited'
        AND EXISTS (
            SELECT 1
              FROM merchants_merchant_categories sc
              JOIN vouchers_initiative_allowed_categories cc
                ON cc.spendingcategory_id = sc.spendingcategory_id
             WHERE sc.merchant_id = s.id AND cc.initiative_id = v.initiative_id)
        AND EXISTS (
            SELECT 1
              FROM merchants_merchant_municipalities sm
              JOIN vouchers_initiative_municipalities cm
                ON cm.organization_id = sm.organization_id
             WHERE sm.merchant_id = s.id AND cm.initiative_id = v.initiative_id);
    IF NOT FOUND THEN
        o_outcome := 'merchant_not_in_circuit';
        RETURN;
    END IF;

    -- R6. The amount.
    spend := p_amount;
    IF spend IS NULL THEN
        IF v.partial_allowed THEN
            o_outcome := 'invalid_amount';
            RETURN;
        END IF;
        spend := v.balance;
    END IF;
    IF NOT v.partial_allowed AND spend <> v.balance THEN
        o_outcome := 'partial_not_allowed';
        RETURN;
    END IF;
    IF spend > v.balance THEN
        o_outcome := 'insufficient_balance';
        RETURN;
    END IF;

    -- R7. The writes.
    SELECT a.id INTO outstanding_id FROM core_account a
     WHERE a.key = 'initiative:' || v.initiative_id || ':outstanding';
    SELECT a.id INTO payable_id FROM core_account a
     WHERE a.key = 'merchant:' || p_merchant_id || ':payable';
    IF outstanding_id IS NULL THEN
        -- Issuing creates it; a call whose vouchers came in some other way gets it here, as
        -- merchants.services.tills.payable_line and vouchers.services.outstanding_line
        -- name it.
        INSERT INTO core_account (key, kind, name)
        VALUES ('initiative:' || v.initiative_id || ':outstanding', 'vouchers_outstanding',
                'Buoni in circolazione del bando ' || v.initiative_id)
        ON CONFLICT (key) DO NOTHING;
        SELECT a.id INTO outstanding_id FROM core_account a
         WHERE a.key = 'initiative:' || v.initiative_id || ':outstanding';
    END IF;
    IF payable_id IS NULL THEN
        -- The shop's first redemption.
        INSERT INTO core_account (key, kind, name)
        VALUES ('merchant:' || p_merchant_id || ':payable', 'merchant_payable',
                'Da liquidare all''esercente ' || p_merchant_id)
        ON CONFLICT (key) DO NOTHING;
        SELECT a.id INTO payable_id FROM core_account a
         WHERE a.key = 'merchant:' || p_merchant_id || ':payable';
    END IF;

    o_balance := v.balance - spend;
    UPDATE vouchers_voucher
       SET balance = o_balance,
           status = CASE WHEN o_balance = 0 THEN 'exhausted' ELSE status END
     WHERE id = v.id;
    INSERT INTO core_journal (kind, memo, created_at, created_by_id)
    VALUES ('redemption', left(shop_name || ' · …' || right(v.code, 4), 255), p_now,
            p_user_id)
    RETURNING id INTO journal_id;
    INSERT INTO core_posting (journal_id, account_id, amount, voucher_ref, merchant_ref)
    VALUES (journal_id, outstanding_id, -spend, v.id, NULL),
           (journal_id, payable_id, spend, v.id, p_merchant_id);
    INSERT INTO merchants_redemption
           (voucher_id, merchant_id, amount, balance_after, status, created_at, cashier_id,
            device_id, journal_id)
    VALUES (v.id, p_merchant_id, spend, o_balance, 'confirmed', p_now, p_user_id, p_device_id,
            journal_id)
    RETURNING id INTO o_redemption_id;
    -- R8. Another request with this key that committed meanwhile makes this insert fail,
    -- and the whole statement with it: the caller then answers as that request did.
    INSERT INTO merchants_idempotencyrecord (merchant_id, key, request_hash, redemption_id,
                                             created_at)
    VALUES (p_merchant_id, p_key, p_hash, o_redemption_id, p_now);

    o_outcome := 'redeemed';
    o_amount := spend;
    o_created_at := p_now;
    o_status := 'confirmed';
    o_first_name := v.first_name;
    o_last_name := v.last_name;
    o_cashier_id := p_user_id;
    o_device_id := p_device_id;
    o_journal_id := journal_id;
END;
$fn$;
