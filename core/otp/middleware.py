"""Staff pages ask a staff member for his code (or his enrolment) before anything else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from core.otp.services import (
    authenticator_for,
    is_verified,
)

# The voucher QR images are bearer secrets that staff print from the admin.
STAFF_PATH_PREFIXES = ("/vouchers/",)

# Where the code is not required, only people who had enrolled when they signed in are asked
# for it: the mark saves every other admin page a query for a device they do not have.
ENROLLED_AT_LOGIN_SESSION_KEY = "otp_enrolled_at_login"


def _mark_enrolled_at_login(
    sender: object, request: HttpRequest | None, user: User, **kwargs: Any
) -> None:
    if request is not None and user.is_staff and authenticator_for(user) is not None:
        request.session[ENROLLED_AT_LOGIN_SESSION_KEY] = True


user_logged_in.connect(_mark_enrolled_at_login, dispatch_uid="core.otp.enrolled_at_login")


def is_staff_path(path: str) -> bool:
    return path.startswith((reverse("admin:index"), *STAFF_PATH_PREFIXES))


class StaffOTPMiddleware:
    """Send a staff member who has not given his code to verification (or enrolment).

    Goes after django-otp's ``OTPMiddleware``, which tells whether the session is verified.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_staff_path(request.path_info):
            redirect = self.redirect_for(request)
            if redirect is not None:
                return redirect
        return self.get_response(request)

    @staticmethod
    def redirect_for(request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return None
        if is_verified(user):
            return None
        if not (settings.OTP_REQUIRED or request.session.get(ENROLLED_AT_LOGIN_SESSION_KEY)):
            return None
        open_paths = {reverse("otp-verify"), reverse("otp-enrol"), reverse("admin:logout")}
        if request.path_info in open_paths:
            return None
        if authenticator_for(user) is not None:
            target = "otp-verify"
        elif settings.OTP_REQUIRED:
            target = "otp-enrol"
        else:
            request.session.pop(ENROLLED_AT_LOGIN_SESSION_KEY, None)
            return None
        return HttpResponseRedirect(
            f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}"
        )
