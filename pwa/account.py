"""Signing in to the app: by a link sent by e-mail or the access code of the Comune's letter."""

from functools import wraps

from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.client_address import client_ip
from pwa.forms import AccessCodeForm, EmailLinkForm
from vouchers.services.access import (
    AccessRefused,
    access_code_login,
    login_link_consume,
    login_link_request,
)


def beneficiary_required(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        beneficiary = (
            getattr(request.user, "beneficiary", None) if request.user.is_authenticated else None
        )
        if beneficiary is None:
            return redirect(f"{reverse('webapp:login')}?next={request.path}")
        request.beneficiary = beneficiary
        return view(request, *args, **kwargs)

    return wrapper


def login_page(request: HttpRequest) -> HttpResponse:
    email_form = EmailLinkForm(prefix="link")
    code_form = AccessCodeForm(prefix="code")
    sent = False
    next_url = request.GET.get("next") or request.POST.get("next") or ""
    if not next_url.startswith("/") or next_url.startswith("//"):
        next_url = reverse("webapp:my-vouchers")
    status = 200
    if request.method == "POST" and "link-email" in request.POST:
        email_form = EmailLinkForm(request.POST, prefix="link")
        if email_form.is_valid():
            # The link's absolute URL with a slot for the token, written in the background.
            link = request.build_absolute_uri(reverse("webapp:login-link", args=["TOKEN"]))
            head, _slot, tail = link.rpartition("TOKEN")
            try:
                login_link_request(
                    email=email_form.cleaned_data["email"],
                    link_template=f"{head}{{token}}{tail}",
                    client_ip=client_ip(request),
                )
            except AccessRefused:
                email_form.add_error(
                    None, _("Troppe richieste in poco tempo. Riprova tra qualche minuto.")
                )
                status = 429
            else:
                sent = True
    elif request.method == "POST":
        code_form = AccessCodeForm(request.POST, prefix="code")
        if code_form.is_valid():
            try:
                beneficiary = access_code_login(
                    fiscal_code=code_form.cleaned_data["fiscal_code"],
                    access_code=code_form.cleaned_data["access_code"],
                    client_ip=client_ip(request),
                )
            except AccessRefused as refused:
                code_form.add_error(
                    None,
                    _("Troppi tentativi: riprova tra 15 minuti.")
                    if refused.locked
                    else _("Codice fiscale o codice di accesso non corretti."),
                )
                status = 429 if refused.locked else 200
            else:
                login(
                    request, beneficiary.user, backend="django.contrib.auth.backends.ModelBackend"
                )
                return redirect(next_url)
    return render(
        request,
        "pwa/login.html",
        {"email_form": email_form, "code_form": code_form, "sent": sent, "next": next_url},
        status=status,
    )


def login_link(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        # Mail scanners open links: the link logs in only when the person presses the button.
        return render(request, "pwa/login_link.html", {"token": token})
    beneficiary = login_link_consume(token=token)
    if beneficiary is None:
        return render(request, "pwa/login_link.html", {"token": token, "invalid": True}, status=410)
    beneficiary.refresh_from_db()
    login(request, beneficiary.user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("webapp:my-vouchers")


@require_POST
def logout_page(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("webapp:home")
