"""Admin of the shared core: organisations, funds, contributions, the ledger and payments.

Ledger rows (journals, postings, contributions) are never edited or deleted by hand: they
change only through services. The modules:

- ``toolkit``: the pieces every app's admin shares (pages that ask before an action calls a
  service, the add page a service saves, amounts, filters, row scoping).
- ``organisations``: people, groups and organisations.
- ``funds``: funds. ``funding``: contributions of every kind, receipts, loyalty points.
- ``ledger``: journals, postings and accounts.
- ``payments``: payment batches; ``reconciliation``: the bank's camt.054 import.

Importing this package registers every page (Django's autodiscovery imports only it).
"""

from core.admin import funding, funds, ledger, organisations, payments  # noqa: F401
