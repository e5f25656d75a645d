"""Read queries worth a name, by subject (no re-exports: import from the module).

- ``scope``: who sees what (a staff user's municipalities, calls, applications, beneficiaries,
  vouchers) and the calls list's figures.
- ``holders``: what a beneficiary and the public see.
- ``budget``: a call's budget and its waiting list.
- ``payments``: claims and cash grants to pay, IBANs, transfers paid.
- ``runs``: retention and issuing runs.
"""
