"""A shop's request to join the circuit, made from the public page."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.models import Organization
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
