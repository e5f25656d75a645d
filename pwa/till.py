"""The cashier's till: login once per device, scan, check, redeem, void, today's list."""
