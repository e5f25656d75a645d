"""Pages of the installable app; they parse, call one service or selector, and render."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.client_address import client_ip
from core.errors import DomainError
from core.rate_limits import Counter, attempt_count, counter_key, limit_reached
from merchants.models import Redemption
from merchants.selectors import circuit_merchants
from merchants.services.accreditation import AccreditationRequest, merchant_request_accreditation
from pwa.forms import (
    MEMBER_ROWS,
    AccessCodeForm,
    AccreditationForm,
    AnswerForm,
    ApplicationForm,
    ClaimForm,
    EmailLinkForm,
)
from vouchers.access import AccessRefused, access_code_login, login_link_consume, login_link_request
from vouchers.cash import contribution_status
from vouchers.models import Application, Initiative, ReimbursementClaim, Voucher
from vouchers.programme import (
    ApplicantData,
    MemberData,
    application_answer,
    application_document_add,
    application_submit,
)
from vouchers.reimbursements import ExpenseData, reimbursement_claim_submit
from vouchers.selectors import vouchers_of_holder

PUBLIC_STATUSES = [
    Initiative.Status.PUBLISHED,
    Initiative.Status.CLOSED,
    Initiative.Status.RANKED,
    Initiative.Status.ISSUED,
]


def submitted(request: HttpRequest) -> tuple:
    """The data and files a form is bound to: none on GET, even an empty POST on POST."""
    return (request.POST, request.FILES) if request.method == "POST" else (None, None)


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


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and getattr(request.user, "beneficiary", None):
        return redirect("webapp:my-vouchers")
    calls = Initiative.objects.filter(status=Initiative.Status.PUBLISHED).order_by("title")
    return render(request, "pwa/home.html", {"initiatives": calls})


def initiative_list(request: HttpRequest) -> HttpResponse:
    calls = (
        Initiative.objects.filter(status__in=PUBLIC_STATUSES)
        .prefetch_related("municipalities")
        .order_by("-applications_open_at", "title")
    )
    return render(request, "pwa/initiatives.html", {"initiatives": calls})


def initiative_detail(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(
        Initiative.objects.prefetch_related("documents", "municipalities", "allowed_categories"),
        pk=initiative_id,
        status__in=PUBLIC_STATUSES,
    )
    now = timezone.now()
    is_open = (
        initiative.status == Initiative.Status.PUBLISHED
        and initiative.applications_open_at
        and initiative.applications_close_at
        and initiative.applications_open_at <= now <= initiative.applications_close_at
    )
    return render(request, "pwa/initiative.html", {"initiative": initiative, "is_open": is_open})


def initiative_shops(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(Initiative, pk=initiative_id, status__in=PUBLIC_STATUSES)
    shops = circuit_merchants(initiative_id=initiative.pk).prefetch_related(
        "categories", "municipalities"
    )
    category = request.GET.get("categoria", "")
    town = request.GET.get("comune", "")
    if category.isdigit():
        shops = shops.filter(categories=int(category))
    if town.isdigit():
        shops = shops.filter(municipalities=int(town))
    return render(
        request,
        "pwa/shops.html",
        {
            "initiative": initiative,
            "shops": shops,
            "categories": initiative.allowed_categories.order_by("name"),
            "towns": initiative.municipalities.order_by("name"),
            "selected_category": category,
            "selected_town": town,
        },
    )


def initiative_ranking(request: HttpRequest, initiative_id: int) -> HttpResponse:
    """The public ranking: protocol numbers, positions and outcomes only, no names."""
    initiative = get_object_or_404(
        Initiative,
        pk=initiative_id,
        status__in=[Initiative.Status.RANKED, Initiative.Status.ISSUED, Initiative.Status.ARCHIVED],
    )
    rows = (
        initiative.applications.filter(rank__isnull=False)
        .order_by("rank")
        .values("rank", "protocol_year", "protocol_sequence", "status", "outcome")
    )
    ranking = [
        {
            "rank": row["rank"],
            "protocol": f"{row['protocol_year']}/{row['protocol_sequence']:06d}",
            "outcome": Application.outcome_for(status=row["status"], outcome=row["outcome"])[1],
        }
        for row in rows
    ]
    return render(request, "pwa/ranking.html", {"initiative": initiative, "ranking": ranking})


# Shops asking to join, from one client address: each request writes a shop and its people
# and lands in the agency's queue, so a script must not fill it.
ACCREDITATION_REQUESTS_PER_IP = 5
ACCREDITATION_WINDOW_SECONDS = 60 * 60


def accreditation_request(request: HttpRequest) -> HttpResponse:
    form = AccreditationForm(request.POST if request.method == "POST" else None)
    counter = Counter(
        key=counter_key("accreditation:ip", client_ip(request)),
        limit=ACCREDITATION_REQUESTS_PER_IP,
        seconds=ACCREDITATION_WINDOW_SECONDS,
    )
    if request.method == "POST" and limit_reached([counter]):
        form.add_error(None, _("Troppe richieste da questa rete: riprova tra un'ora."))
        return render(request, "pwa/accreditation.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            merchant = merchant_request_accreditation(
                request=AccreditationRequest(
                    **{
                        k: v
                        for k, v in data.items()
                        if k not in {"categories", "municipalities", "privacy"}
                    },
                    categories=list(data["categories"]),
                    municipalities=list(data["municipalities"]),
                )
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, field_errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, field_errors)
            else:
                form.add_error(None, error.messages)
        else:
            attempt_count([counter])
            return render(request, "pwa/accreditation_done.html", {"merchant": merchant})
    return render(request, "pwa/accreditation.html", {"form": form})


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "pwa/privacy.html")


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


@beneficiary_required
def my_vouchers(request: HttpRequest) -> HttpResponse:
    vouchers = vouchers_of_holder(beneficiary_id=request.beneficiary.pk)
    return render(
        request,
        "pwa/my_vouchers.html",
        {"vouchers": vouchers, "synced_at": timezone.now(), "beneficiary": request.beneficiary},
    )


@beneficiary_required
def my_voucher(request: HttpRequest, voucher_id: int) -> HttpResponse:
    voucher = (
        vouchers_of_holder(beneficiary_id=request.beneficiary.pk)
        .prefetch_related(
            Prefetch(
                "redemptions",
                queryset=Redemption.objects.select_related("merchant").order_by("-created_at"),
            )
        )
        .filter(pk=voucher_id)
        .first()
    )
    if voucher is None:
        raise Http404
    shops = circuit_merchants(initiative_id=voucher.initiative_id)[:50]
    return render(
        request,
        "pwa/my_voucher.html",
        {
            "voucher": voucher,
            "shops": shops,
            "synced_at": timezone.now(),
            "usable": voucher.status == Voucher.Status.ACTIVE
            and voucher.valid_from <= timezone.localdate() <= voucher.valid_until,
        },
    )


@beneficiary_required
def my_applications(request: HttpRequest) -> HttpResponse:
    applications = (
        Application.objects.filter(applicant=request.beneficiary)
        .select_related("initiative")
        .order_by("-submitted_at")
    )
    return render(request, "pwa/my_applications.html", {"applications": applications})


@beneficiary_required
def my_application(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(
        Application.objects.select_related("initiative").prefetch_related("decisions", "documents"),
        pk=application_id,
        applicant=request.beneficiary,
    )
    form = AnswerForm(*submitted(request))
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data.get("document"):
                application_document_add(
                    application=application,
                    uploaded=form.cleaned_data["document"],
                    title=_("Integrazione"),
                    uploaded_by=request.user,
                )
            application_answer(
                application=application, note=form.cleaned_data["note"], by=request.user
            )
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Risposta inviata: la domanda torna all'esame del Comune."))
            return redirect("webapp:my-application", application_id=application.pk)
    last_request = (
        application.decisions.filter(action="request_info").order_by("-decided_at").first()
        if application.status == Application.Status.INFO_REQUESTED
        else None
    )
    return render(
        request,
        "pwa/my_application.html",
        {
            "application": application,
            "form": form,
            "last_request": last_request,
            "contribution": contribution_status(application=application),
        },
    )


@beneficiary_required
def apply(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(Initiative, pk=initiative_id, status=Initiative.Status.PUBLISHED)
    beneficiary = request.beneficiary
    existing = Application.objects.filter(initiative=initiative, applicant=beneficiary).first()
    if existing is not None:
        messages.info(request, _("Hai già presentato una domanda per questo bando."))
        return redirect("webapp:my-application", application_id=existing.pk)
    form = ApplicationForm(
        request.POST if request.method == "POST" else None,
        initiative=initiative,
        initial={
            "municipality": beneficiary.municipality_id,
            "email": beneficiary.email,
            "phone": beneficiary.phone,
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        members = [
            MemberData(
                data[f"member_{i}_fiscal_code"].strip().upper(),
                data[f"member_{i}_first_name"],
                data[f"member_{i}_last_name"],
                data[f"member_{i}_birth_date"],
                data[f"member_{i}_is_child"],
            )
            for i in range(MEMBER_ROWS)
            if data.get(f"member_{i}_fiscal_code")
        ]
        try:
            application = application_submit(
                initiative=initiative,
                data=ApplicantData(
                    fiscal_code=beneficiary.fiscal_code,
                    first_name=beneficiary.first_name,
                    last_name=beneficiary.last_name,
                    birth_date=data["birth_date"],
                    sex=data["sex"],
                    municipality=data["municipality"],
                    email=data["email"],
                    phone=data["phone"],
                    street=data["street"],
                    postal_code=data["postal_code"],
                    isee=data["isee"],
                    dsu_protocol=data["dsu_protocol"],
                    iban=data["iban"],
                    declarations_accepted=initiative.declaration_list,
                    members=members,
                ),
                channel=Application.Channel.ONLINE,
                entered_by=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(
                request,
                _("Domanda inviata con protocollo %(protocol)s.")
                % {"protocol": application.protocol_number},
            )
            return redirect("webapp:my-application", application_id=application.pk)
    return render(request, "pwa/apply.html", {"initiative": initiative, "form": form})


@beneficiary_required
def claim_new(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(
        Application.objects.select_related("initiative"),
        pk=application_id,
        applicant=request.beneficiary,
    )
    form = ClaimForm(
        *submitted(request),
        initiative=application.initiative,
    )
    if request.method == "POST" and form.is_valid():
        try:
            reimbursement_claim_submit(
                application=application,
                expenses=[
                    ExpenseData(
                        amount=row["amount"],
                        spent_on=row["spent_on"],
                        category=row["category"],
                        receipt=row["receipt"],
                        description=row["description"] or "",
                    )
                    for row in form.cleaned_data["rows"]
                ],
                submitted_by=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Richiesta di rimborso inviata."))
            return redirect("webapp:my-claims")
    return render(request, "pwa/claim_new.html", {"application": application, "form": form})


@beneficiary_required
def my_claims(request: HttpRequest) -> HttpResponse:
    claims = (
        ReimbursementClaim.objects.filter(beneficiary=request.beneficiary)
        .select_related("initiative")
        .prefetch_related("expenses__category")
        .order_by("-submitted_at")
    )
    return render(request, "pwa/my_claims.html", {"claims": claims})
