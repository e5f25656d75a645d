"""Two-factor authentication for staff: an authenticator app (TOTP) and backup codes.

Staff sign in at the admin with username and password as before; then they give the
six-digit code of an authenticator app (a django-otp TOTP device) or, without the phone at
hand, one of ten single-use backup codes (a django-otp static device).

- ``OTP_REQUIRED`` on (the default in production): a staff member without a confirmed
  authenticator is sent to the enrolment page before any staff page.
- ``OTP_REQUIRED`` off (development, the demo, the tests): enrolment is voluntary, from the
  account menu; whoever had enrolled when he signed in is asked for the code all the same,
  so an enrolled account is protected in every environment.
- Only ``is_staff`` users on the staff pages (the admin and the voucher QR images it prints)
  are asked. Beneficiaries, shop owners and cashiers in the PWA and the device-key API never
  are.

A lost phone: a superuser runs ``manage.py otp_reset USERNAME`` or the action on the
authenticators' list in the admin; at the next sign-in the person enrols a new phone.

The modules: ``services`` (enrol, verify, renew the backup codes, reset), ``middleware``
(``StaffOTPMiddleware``), ``forms``, ``views`` (the pages, in ``config.urls``) and ``admin``
(the device pages, registered by ``config.urls`` with ``register_admin``).
"""
