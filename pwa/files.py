"""Uploaded files, served by the application after a check, never from an open ``/media/``.

A published call's documents are public. A beneficiary's own uploads (ISEE certificates,
identity documents, receipts) are personal data: here only their owner downloads them; staff
download them from the admin pages of the application or claim, scoped to what they may see.
"""

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from core.uploads import stored_file_response
from pwa.account import beneficiary_required
from vouchers.models import ApplicationDocument, Expense, InitiativeDocument
from vouchers.selectors.scope import initiatives_for


def initiative_document(request: HttpRequest, initiative_id: int, document_id: int):
    """A call's document: public once the call is; before, only to staff who see the call."""
    document = get_object_or_404(
        InitiativeDocument.objects.select_related("initiative"),
        pk=document_id,
        initiative_id=initiative_id,
    )
    public = document.initiative.is_public
    if not public and not (
        request.user.is_staff
        and initiatives_for(user=request.user).filter(pk=initiative_id).exists()
    ):
        raise Http404
    return stored_file_response(
        document.file, content_type="application/pdf", attachment=False, public=public
    )


@beneficiary_required
def my_application_document(request: HttpRequest, application_id: int, document_id: int):
    document = get_object_or_404(
        ApplicationDocument,
        pk=document_id,
        application_id=application_id,
        application__applicant=request.beneficiary,
    )
    return stored_file_response(document.file, content_type=document.content_type, attachment=True)


@beneficiary_required
def my_expense_receipt(request: HttpRequest, claim_id: int, expense_id: int):
    expense = get_object_or_404(
        Expense, pk=expense_id, claim_id=claim_id, claim__beneficiary=request.beneficiary
    )
    return stored_file_response(
        expense.receipt, content_type=expense.receipt_content_type, attachment=True
    )
