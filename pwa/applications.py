"""A beneficiary's applications: applying online, following them, answering requests."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.errors import DomainError
from pwa.account import beneficiary_required
from pwa.forms import AnswerForm, ApplicationForm, submitted
from vouchers.models import Application
from vouchers.selectors.holders import (
    application_last_information_request,
    applications_of_applicant,
    open_initiatives,
)
from vouchers.selectors.payments import cash_grant_status
from vouchers.services.applications import application_submit
from vouchers.services.information_requests import information_request_answer


@beneficiary_required
def apply(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = get_object_or_404(open_initiatives(), pk=initiative_id)
    beneficiary = request.beneficiary
    existing = (
        applications_of_applicant(beneficiary_id=beneficiary.pk)
        .filter(initiative=initiative)
        .first()
    )
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
        try:
            application = application_submit(
                initiative=initiative,
                data=form.applicant_data(
                    declarations=initiative.declaration_list,
                    fiscal_code=beneficiary.fiscal_code,
                    first_name=beneficiary.first_name,
                    last_name=beneficiary.last_name,
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
def my_applications(request: HttpRequest) -> HttpResponse:
    applications = applications_of_applicant(beneficiary_id=request.beneficiary.pk)
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
            information_request_answer(
                application=application,
                note=form.cleaned_data["note"],
                document=form.cleaned_data.get("document") or None,
                by=request.user,
            )
        except DomainError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, _("Risposta inviata: la domanda torna all'esame del Comune."))
            return redirect("webapp:my-application", application_id=application.pk)
    return render(
        request,
        "pwa/my_application.html",
        {
            "application": application,
            "form": form,
            "last_request": application_last_information_request(application=application),
            "contribution": cash_grant_status(application=application),
        },
    )
