"""The cashier's till: login once per device, scan, check, redeem, void, today's list.

The pages only render; the till's JavaScript talks to the redemption API
(``/api/v1/…``) with the session cookie and the CSRF token.
"""

import functools
import json
import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.i18n import JavaScriptCatalog

from merchants.models import Merchant
from merchants.selectors import merchant_staff_of

# A till is a shop's phone or tablet: one login keeps it open for months. Every visit to
# the till page pushes the expiry forward, so a till in daily use never logs out.
TILL_SESSION_AGE = int(timedelta(days=90).total_seconds())


class TillLoginForm(AuthenticationForm):
    """Username and password of a shop's owner or cashier; anyone else is refused."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_shop_staff": gettext_lazy(
            "Questo utente non lavora per un negozio del circuito, quindi non può usare la "
            "cassa. Chiedi al titolare del negozio di aggiungerti come cassiere."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocapitalize": "none", "autocorrect": "off", "spellcheck": "false"}
        )

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if merchant_staff_of(user=user) is None:
            raise forms.ValidationError(
                self.error_messages["not_shop_staff"], code="not_shop_staff"
            )


def till_login(request: HttpRequest) -> HttpResponse:
    if merchant_staff_of(user=request.user) is not None:
        return redirect("webapp:till")
    form = TillLoginForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())
        request.session.set_expiry(TILL_SESSION_AGE)
        return redirect("webapp:till")
    return render(
        request,
        "pwa/till/login.html",
        {
            "form": form,
            # Someone already logged in (a beneficiary, the municipality's staff) who came
            # to the till: say why the till does not open for him.
            "signed_in_elsewhere": request.user.is_authenticated,
        },
    )


@require_POST
def till_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("webapp:till-login")


MERCHANT_STATUS_NOTICES = {
    Merchant.Status.SUSPENDED: gettext_lazy(
        "Il negozio è sospeso dal circuito: per ora non può accettare buoni. Contatta il Comune."
    ),
}


def till(request: HttpRequest) -> HttpResponse:
    staff = merchant_staff_of(user=request.user)
    if staff is None:
        return redirect(reverse("webapp:till-login"))
    request.session.set_expiry(TILL_SESSION_AGE)
    merchant = staff.merchant
    status_notice = None
    if merchant.status != Merchant.Status.ACCREDITED:
        status_notice = MERCHANT_STATUS_NOTICES.get(merchant.status) or _(
            "Il negozio non è ancora accreditato: potrà accettare buoni dopo l'approvazione "
            "del Comune."
        )
    return render(
        request,
        "pwa/till/till.html",
        {
            "staff": staff,
            "merchant": merchant,
            "status_notice": status_notice,
            "time_zone": settings.TIME_ZONE,
            "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        },
    )


def till_offline(request: HttpRequest) -> HttpResponse:
    """The page the service worker shows for the till when the network is down."""
    return render(request, "pwa/till/offline.html")


# A double-quoted string literal passed to gettext or ngettext in the till's script.
SCRIPT_MESSAGE = re.compile(r'gettext\(\s*("(?:[^"\\]|\\.)*")')


@functools.cache
def till_script_messages() -> frozenset[str]:
    """Return the texts the till's script translates."""
    with open(finders.find("js/till.js"), encoding="utf-8") as script:
        return frozenset(json.loads(literal) for literal in SCRIPT_MESSAGE.findall(script.read()))


class TillCatalog(JavaScriptCatalog):
    """The project's JavaScript catalogue cut to the till's own texts.

    The catalogue also carries the admin's texts (its two-box selector, its calendar); a
    till on a weak mobile connection downloads only what its script asks for.
    """

    def get_catalog(self) -> dict:
        wanted = till_script_messages()
        return {
            key: value
            for key, value in super().get_catalog().items()
            if key.rpartition("\x04")[2] in wanted
        }
