"""Every state change of calls, applications, vouchers and payments, one module per use case.

- ``budget``: money into a call's budget; the ledger lines of budgets and vouchers.
- ``initiatives``: a call's phases (publish, close the intake, archive).
- ``amendments``: changing a published call's rules, with their history.
- ``applications``: intake with a protocol number, validation decisions, documents, withdrawal.
- ``ranking``: the ranking of a closed call and the amount each application is entitled to.
- ``waiting_list``: funding the waiting list (scorrimento), with its proposal and approval.
- ``issuing``: issuing a ranked call's vouchers or cash grants, in chunks or as a queued run.
- ``issuance``: handing the issuing runs to the task queue and picking up the ones it lost.
- ``expiry``: a voucher's end, by expiry or revocation; the residual back to the budget.
- ``cash_grants``: the cash granted to a person by a cash call («contributo economico»).
- ``reimbursements``: reimbursement claims, their review and decision.
- ``beneficiary_payments``: the batch paying beneficiaries, the municipality's transfers.
- ``notifications``: telling applicants their outcome by e-mail, SMS or letter.
- ``outcome_letters``: printing the outcome letters.
- ``access``: the beneficiaries' login links and access codes.
- ``retention``: anonymising a call's personal data once its retention term is over.

Reads worth a name are in ``vouchers.selectors``; tasks (``vouchers.tasks``) and screens call
these functions and are never imported by them.
"""
