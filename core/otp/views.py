"""The pages of two-factor authentication: verify, enrol, the account's security, backup codes."""

from __future__ import annotations

import base64
from typing import Any

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.otp.forms import (
    EnrolmentForm,
    VerificationForm,
)
from core.otp.services import (
    TwoFactorError,
    authenticator_for,
    backup_codes_left,
    is_verified,
    otp_backup_codes_renew,
    otp_enrolment_confirm,
    otp_enrolment_start,
    otp_verify,
)


def safe_next(request: HttpRequest, default: str = "") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default or reverse("admin:index")


def _staff_or_login(request: HttpRequest) -> HttpResponse | None:
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return None
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('admin:login')}?{query}")


def _staff_member(request: HttpRequest) -> AbstractBaseUser:
    """The signed-in staff member that ``_staff_or_login`` let through."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied
    return user


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), **extra}


def _mark_verified(request: HttpRequest, device: Device) -> None:
    # A new session key once the second factor is given: a key seen before stays half-way.
    request.session.cycle_key()
    otp_login(request, device)


def secret_for_display(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(text: str) -> str:
    """The QR of ``text`` as inline SVG: drawn on the server, no script needed."""
    svg = segno.make(text, error="m").svg_inline(
        scale=5, border=4, dark="#000000", light="#ffffff", title=gettext("Codice QR")
    )
    # Markup written by segno; the otpauth URI is only encoded in the QR, never echoed.
    return mark_safe(svg)


@never_cache
def verify_view(request: HttpRequest) -> HttpResponse:
    """Ask a signed-in staff member for the code of his app or a backup code."""
    if (refused := _staff_or_login(request)) is not None:
        return refused
    user = _staff_member(request)
    next_url = safe_next(request)
    if is_verified(user):
        return HttpResponseRedirect(next_url)
    if authenticator_for(user) is None:
        if settings.OTP_REQUIRED:
            return HttpResponseRedirect(f"{reverse('otp-enrol')}?{urlencode({'next': next_url})}")
        return HttpResponseRedirect(next_url)
    form = VerificationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            device = otp_verify(user=user, code=form.cleaned_data["code"])
        except TwoFactorError as error:
            form.add_error("code", error.detail)
        else:
            _mark_verified(request, device)
            if isinstance(device, StaticDevice):
                left = backup_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "Hai usato un codice di emergenza: te ne resta %(count)d. "
                        "Generane di nuovi da «Verifica in due passaggi».",
                        "Hai usato un codice di emergenza: te ne restano %(count)d. "
                        "Generane di nuovi da «Verifica in due passaggi».",
                        left,
                    )
                    % {"count": left},
                )
            return HttpResponseRedirect(next_url)
    return TemplateResponse(
        request,
        "otp/verify.html",
        _context(request, title=_("Verifica in due passaggi"), form=form, next=next_url),
    )


@never_cache
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Pair an authenticator app with the account: scan, confirm with a code, keep backups."""
    if (refused := _staff_or_login(request)) is not None:
        return refused
    user = _staff_member(request)
    next_url = safe_next(request)
    if authenticator_for(user) is not None:
        return HttpResponseRedirect(next_url)
    form = EnrolmentForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            device, codes = otp_enrolment_confirm(user=user, code=form.cleaned_data["code"])
        except TwoFactorError as error:
            form.add_error("code", error.detail)
        else:
            _mark_verified(request, device)
            return TemplateResponse(
                request,
                "otp/backup_codes.html",
                _context(
                    request,
                    title=_("Verifica in due passaggi attivata"),
                    codes=codes,
                    next=next_url,
                ),
            )
    device = otp_enrolment_start(user=user)
    return TemplateResponse(
        request,
        "otp/enrol.html",
        _context(
            request,
            title=_("Attiva la verifica in due passaggi"),
            form=form,
            next=next_url,
            qr=qr_svg(device.config_url),
            secret=secret_for_display(device),
            required=settings.OTP_REQUIRED,
        ),
    )


@never_cache
def security_view(request: HttpRequest) -> HttpResponse:
    """Where a staff member sees whether his account asks for a code, and renews backups."""
    if (refused := _staff_or_login(request)) is not None:
        return refused
    user = _staff_member(request)
    device = authenticator_for(user)
    return TemplateResponse(
        request,
        "otp/security.html",
        _context(
            request,
            title=_("Verifica in due passaggi"),
            device=device,
            codes_left=backup_codes_left(user) if device else 0,
            required=settings.OTP_REQUIRED,
        ),
    )


@never_cache
@require_POST
def backup_codes_view(request: HttpRequest) -> HttpResponse:
    """Issue a new set of backup codes, shown in this answer only."""
    if (refused := _staff_or_login(request)) is not None:
        return refused
    try:
        codes = otp_backup_codes_renew(user=_staff_member(request))
    except TwoFactorError as error:
        messages.error(request, error.detail)
        return HttpResponseRedirect(reverse("otp-security"))
    return TemplateResponse(
        request,
        "otp/backup_codes.html",
        _context(
            request,
            title=_("Nuovi codici di emergenza"),
            codes=codes,
            next=reverse("otp-security"),
        ),
    )
