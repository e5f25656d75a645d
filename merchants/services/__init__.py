"""State changes of shops, one module per family of use cases:

- ``accreditation``: a shop's request to join the circuit, and the agency's decision
  (``merchant_request_accreditation``, ``merchant_set_status``);
- ``devices``: the API keys of a shop's tills (``device_key_create``, ``device_key_revoke``);
- ``tills``: the till (``Till``), its guard, a code and an amount read from its request, the
  refusals kept for the audit (``refused_attempt_record``), a shop's payable ledger line;
- ``redemption``: a voucher spent at a shop, once per Idempotency-Key (``voucher_redeem``,
  ``idempotency_key_resolve``), with the rules' two paths (``_redeem_locked`` and the
  PostgreSQL function);
- ``checks``: a till checks a voucher before charging it (``voucher_check``);
- ``voids``: a mistaken redemption cancelled the same day (``redemption_void``);
- ``settlements``: settling shops and paying them (``settlement_create``, ``settlements_run``,
  ``merchant_payment_batch_prepare``);
- ``schedules``: the scheduled settlement run (``due_settlements_run``).

Reads are in ``merchants.selectors``; the settlement's statement in ``merchants.statements``.
"""
