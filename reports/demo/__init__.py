"""Demo data for ``manage.py seed_demo``: a programme with vouchers in every state.

``data`` holds the fixed tables and what is derived from them (codes, keys, fiscal codes),
``build`` creates the programme, ``transfers`` the calls paid by transfer, and ``summary``
says what the demo holds now.

Everything goes through the services (contributions, budgets, issuing, redemptions, expiry,
revocation, device keys), so the ledger is the one real use would leave. The data is fixed in
the tables below; dates are relative to the day of the first run. Voucher codes and device keys
are derived from ``settings.SECRET_KEY``: on one installation they are the same every time, and
a second run, which finds the agency already there, creates nothing and can still print them.
"""
