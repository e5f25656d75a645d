"""A beneficiary's reimbursement claims: sending the receipts and following them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from core.errors import DomainError
from pwa.account import beneficiary_required
from pwa.forms import ClaimForm, submitted
from vouchers.models import Application
from vouchers.selectors.holders import claims_of_beneficiary
from vouchers.services.reimbursements import reimbursement_claim_submit


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
                expenses=form.expenses(),
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
    claims = claims_of_beneficiary(beneficiary_id=request.beneficiary.pk)
    return render(request, "pwa/my_claims.html", {"claims": claims})
