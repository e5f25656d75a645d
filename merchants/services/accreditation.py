"""A shop joins the circuit: its request from the public page, then the agency's decision
(accredited, suspended, reinstated, rejected)."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.models import Organization
from merchants.errors import RedemptionError
from merchants.models import Merchant
from vouchers.models import SpendingCategory


@dataclass(slots=True)
class AccreditationRequest:
    name: str
    legal_name: str
    vat_number: str
    iban: str
    street: str
    postal_code: str
    town: str
    province: str
    email: str
    phone: str
    categories: list[SpendingCategory]
    municipalities: list[Organization]


def merchant_request_accreditation(*, request: AccreditationRequest) -> Merchant:
    """Create a shop awaiting review; P.IVA and IBAN are validated, as every field.

    Raises ``ValidationError`` with a message per field, which forms show as they are.
    """
    merchant = Merchant(
        name=request.name.strip(),
        legal_name=request.legal_name.strip(),
        vat_number=request.vat_number.strip().replace(" ", ""),
        iban=request.iban.strip().replace(" ", "").upper(),
        street=request.street.strip(),
        postal_code=request.postal_code.strip(),
        town=request.town.strip(),
        province=request.province.strip().upper(),
        email=request.email.strip(),
        phone=request.phone.strip(),
        status=Merchant.Status.REQUESTED,
    )
    merchant.full_clean()
    if not request.categories or not request.municipalities:
        raise ValidationError(_("Indica almeno una categoria e un comune servito."))
    with transaction.atomic():
        merchant.save()
        merchant.categories.set(request.categories)
        merchant.municipalities.set(request.municipalities)
    return merchant


MERCHANT_TRANSITIONS: dict[str, set[str]] = {
    Merchant.Status.REQUESTED: {Merchant.Status.ACCREDITED, Merchant.Status.REJECTED},
    Merchant.Status.ACCREDITED: {Merchant.Status.SUSPENDED},
    Merchant.Status.SUSPENDED: {Merchant.Status.ACCREDITED, Merchant.Status.REJECTED},
    Merchant.Status.REJECTED: {Merchant.Status.REQUESTED},
}


def merchant_set_status(*, merchant: Merchant, status: str, reason: str = "") -> Merchant:
    """Accredit, suspend, reinstate or reject a shop, keeping the reason.

    Setting the status it already has changes nothing; other moves follow
    ``MERCHANT_TRANSITIONS`` (a rejected shop must apply again before accreditation).
    """
    with transaction.atomic():
        current = Merchant.objects.select_for_update().get(pk=merchant.pk)
        if current.status == status:
            return merchant
        if status not in MERCHANT_TRANSITIONS.get(current.status, set()):
            raise RedemptionError(
                "invalid_merchant_transition",
                from_status=current.get_status_display(),
                to_status=Merchant.Status(status).label
                if status in Merchant.Status.values
                else status,
            )
        if status in (Merchant.Status.SUSPENDED, Merchant.Status.REJECTED) and not reason.strip():
            raise RedemptionError("reason_required")
        merchant.status = status
        merchant.status_reason = reason.strip()[:255]
        merchant.save(update_fields=["status", "status_reason"])
    return merchant
