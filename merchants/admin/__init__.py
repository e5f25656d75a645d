"""Admin of shops: accreditation, cashiers, device keys, redemptions and settlements.

Redemptions, settlements and refused attempts are ledger-backed or audit rows: read-only.
Accrediting, suspending and rejecting a shop, and creating or revoking a till's key, go
through ``merchants.services``. The modules:

- ``base``: status colours, what each user sees (``visible_merchants``), a redemption's display;
- ``shops``: the shops, their cashiers and keys, settling now;
- ``devices``: the tills' API keys;
- ``redemptions``: redemptions and refused attempts;
- ``settlements``: settlements, their statement and their payment batch;
- ``voucher_pages``: the shop side of the voucher and call pages of ``vouchers.admin``.

Django's admin imports this package; importing the modules registers their pages.
"""

from merchants.admin import devices, redemptions, settlements, shops, voucher_pages  # noqa: F401
