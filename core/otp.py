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
"""

import base64
import logging
import math
import re

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminTextInputWidget

from core.errors import DomainError

logger = logging.getLogger(__name__)

BACKUP_CODE_COUNT = 10
# The voucher QR images are bearer secrets that staff print from the admin.
STAFF_PATH_PREFIXES = ("/vouchers/",)


class TwoFactorError(DomainError):
    messages = {
        "otp_invalid_code": _("Codice non valido. Controlla l'app e riprova."),
        "otp_throttled": _("Troppi codici sbagliati: riprova tra %(seconds)s s."),
        "otp_already_enrolled": _("La verifica in due passaggi è già attiva."),
        "otp_not_enrolled": _("La verifica in due passaggi non è attiva."),
        "otp_no_enrolment": _(
            "Attivazione scaduta: ricarica la pagina e inquadra il nuovo codice QR."
        ),
    }


# --- services ----------------------------------------------------------------------------


def authenticator_for(user: AbstractBaseUser) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if he has enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def backup_codes_left(user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def normalize_code(code: str) -> str:
    """People copy codes with spaces or dashes and in either case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def _lock_user(user: AbstractBaseUser) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _check_code(device: Device, code: str) -> None:
    """Check a code against one device, recording a failure for the device's throttling.

    The check commits on its own: a refused code must still count towards the delay
    django-otp imposes before the next attempt, so callers raise only after it.
    """
    with transaction.atomic():
        device = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, details = device.verify_is_allowed()
        verified = allowed and device.verify_token(code)
    if not allowed:
        wait = (details or {}).get("locked_until")
        seconds = max(1, math.ceil((wait - timezone.now()).total_seconds())) if wait else 1
        raise TwoFactorError("otp_throttled", seconds=seconds)
    if not verified:
        raise TwoFactorError("otp_invalid_code")


@transaction.atomic
def otp_enrolment_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """Give the user an authenticator to scan: the same one until he confirms it."""
    _lock_user(user)
    if authenticator_for(user) is not None:
        raise TwoFactorError("otp_already_enrolled")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=gettext("App di autenticazione"), confirmed=False
        )
    return device


def otp_enrolment_confirm(*, user: AbstractBaseUser, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the user's new authenticator with a code from it; issue his backup codes."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        if authenticator_for(user) is not None:
            raise TwoFactorError("otp_already_enrolled")
        raise TwoFactorError("otp_no_enrolment")
    _check_code(device, normalize_code(code))
    with transaction.atomic():
        _lock_user(user)
        if authenticator_for(user) is not None:
            raise TwoFactorError("otp_already_enrolled")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _issue_backup_codes(user)
    logger.info("Two-factor authentication enrolled for user %s", user.pk)
    return device, codes


def otp_verify(*, user: AbstractBaseUser, code: str) -> Device:
    """Check a code from the user's app, or one of his backup codes (used up by this)."""
    code = normalize_code(code)
    if code.isdigit():
        device = authenticator_for(user)
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if authenticator_for(user) is None:
            device = None
    if device is None:
        raise TwoFactorError("otp_invalid_code")
    _check_code(device, code)
    return device


def _issue_backup_codes(user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(
        user=user, name=gettext("Codici di emergenza"), confirmed=True
    )
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def otp_backup_codes_renew(*, user: AbstractBaseUser) -> list[str]:
    """Replace the user's backup codes with a new set; the old ones stop working."""
    _lock_user(user)
    if authenticator_for(user) is None:
        raise TwoFactorError("otp_not_enrolled")
    codes = _issue_backup_codes(user)
    logger.info("Backup codes renewed for user %s", user.pk)
    return codes


@transaction.atomic
def otp_reset(*, user: AbstractBaseUser, by: AbstractBaseUser | None = None) -> int:
    """Remove the user's authenticators and backup codes, after a lost or replaced phone.

    Returns how many devices were removed. His open sessions lose their verification: at
    the next staff page he enrols again (or, where it is not required, goes on without).
    """
    _lock_user(user)
    removed = TOTPDevice.objects.filter(user=user).count()
    removed += StaticDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    logger.warning(
        "Two-factor authentication reset for user %s by %s (%s devices)",
        user.pk,
        by.pk if by is not None else "command line",
        removed,
    )
    return removed


# --- middleware --------------------------------------------------------------------------

# Where the code is not required, only people who had enrolled when they signed in are asked
# for it: the mark saves every other admin page a query for a device they do not have.
ENROLLED_AT_LOGIN_SESSION_KEY = "otp_enrolled_at_login"


def _mark_enrolled_at_login(sender, request, user, **kwargs) -> None:
    if request is not None and user.is_staff and authenticator_for(user) is not None:
        request.session[ENROLLED_AT_LOGIN_SESSION_KEY] = True


user_logged_in.connect(_mark_enrolled_at_login, dispatch_uid="core.otp.enrolled_at_login")


def is_staff_path(path: str) -> bool:
    return path.startswith((reverse("admin:index"), *STAFF_PATH_PREFIXES))


class StaffOTPMiddleware:
    """Send a staff member who has not given his code to verification (or enrolment).

    Goes after django-otp's ``OTPMiddleware``, which tells whether the session is verified.
    """

    def __init__(self, get_response):
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
        if user.is_verified():
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


# --- forms -------------------------------------------------------------------------------


class EnrolmentForm(forms.Form):
    code = forms.CharField(
        label=_("Codice a 6 cifre mostrato dall'app"),
        max_length=12,
        widget=UnfoldAdminTextInputWidget(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
        error_messages={"required": _("Scrivi il codice a 6 cifre mostrato dall'app.")},
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise forms.ValidationError(_("Il codice è fatto di 6 cifre."))
        return code


class VerificationForm(forms.Form):
    code = forms.CharField(
        label=_("Codice di verifica"),
        max_length=24,
        help_text=_("Le 6 cifre dell'app di autenticazione, oppure un codice di emergenza."),
        widget=UnfoldAdminTextInputWidget(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "autofocus": True}
        ),
        error_messages={"required": _("Scrivi il codice di verifica.")},
    )


# --- views -------------------------------------------------------------------------------


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


def _context(request: HttpRequest, **extra) -> dict:
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
    user = request.user
    next_url = safe_next(request)
    if user.is_verified():
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
    user = request.user
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
    device = authenticator_for(request.user)
    return TemplateResponse(
        request,
        "otp/security.html",
        _context(
            request,
            title=_("Verifica in due passaggi"),
            device=device,
            codes_left=backup_codes_left(request.user) if device else 0,
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
        codes = otp_backup_codes_renew(user=request.user)
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


# --- admin -------------------------------------------------------------------------------


class TwoFactorDeviceAdmin(ModelAdmin):
    """Superusers see who has enrolled and reset a lost phone; nobody reads a secret."""

    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "user__last_name"]
    actions = ["reset_two_factor"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_reset_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    @display(description=_("Utente"), ordering="user__username")
    def person(self, obj):
        return obj.user.get_username()

    @display(description=_("Stato"), label={"confirmed": "success", "pending": "warning"})
    def status(self, obj):
        if obj.confirmed:
            return "confirmed", _("Attiva")
        return "pending", _("In attivazione")

    @display(description=_("Creato il"), ordering="created_at")
    def created(self, obj):
        return date_format(timezone.localtime(obj.created_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Ultimo uso"), ordering="last_used_at", empty_value="—")
    def last_used(self, obj):
        if obj.last_used_at is None:
            return None
        return date_format(timezone.localtime(obj.last_used_at), "SHORT_DATETIME_FORMAT")

    @display(description=_("Codici sbagliati di fila"), ordering="throttling_failure_count")
    def failures(self, obj):
        return obj.throttling_failure_count

    @action(
        description=_("Azzera la verifica in due passaggi (telefono perso)"),
        permissions=["reset"],
    )
    def reset_two_factor(self, request, queryset):
        users = (
            get_user_model()
            .objects.filter(pk__in=queryset.values("user_id").distinct())
            .order_by("pk")
        )
        names = []
        for user in users:
            otp_reset(user=user, by=request.user)
            names.append(user.get_username())
        self.message_user(
            request,
            gettext(
                "Verifica in due passaggi azzerata per: %(names)s. "
                "Al prossimo accesso attiveranno un nuovo telefono."
            )
            % {"names": ", ".join(names)},
            messages.SUCCESS,
        )


class AuthenticatorAdmin(TwoFactorDeviceAdmin):
    list_display = ["person", "status", "created", "last_used", "failures"]
    fields = readonly_fields = ["person", "status", "created", "last_used", "failures"]


class BackupCodesAdmin(TwoFactorDeviceAdmin):
    """How many backup codes a person has left; the codes themselves are never shown."""

    list_display = ["person", "codes_left", "created", "last_used", "failures"]
    fields = readonly_fields = ["person", "codes_left", "created", "last_used", "failures"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(codes_count=Count("token_set"))

    @display(description=_("Codici rimasti"), ordering="codes_count")
    def codes_left(self, obj):
        return obj.codes_count


def register_admin(site: admin.AdminSite) -> None:
    """Replace django-otp's admin pages with read-only ones in the admin's style.

    Called from the URLconf, as django-otp's own documentation does for its admin site,
    before the admin's URLs are built.
    """
    for model, model_admin in ((TOTPDevice, AuthenticatorAdmin), (StaticDevice, BackupCodesAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
