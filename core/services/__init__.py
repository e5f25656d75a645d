"""State changes of the shared core, one module per family of use cases.

- ``ledger``: the double-entry ledger (``journal_post``, ``Line``, ``fund_account_line``).
- ``funding``: contributions of every kind (``contribution_register``), loyalty points
  (``loyalty_points_import``).
- ``receipts``: the PDF receipt of a citizen's donation (``donation_receipt_pdf``).
- ``payments``: payment batches (distinte): prepare, release, export, mark paid, cancel.
- ``payment_ledger``: the ledger entry of what the bank paid, and the apps' handlers.
- ``reconciliation``: the bank's camt.054 notification marks transfers paid.

Large writes that are not use cases (COPY, many rows updated at once) are in ``core.bulk``;
reads in ``core.selectors``.
"""
