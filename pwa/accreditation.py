"""A shop asks to join the circuit: the request lands in the agency's queue."""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.client_address import client_ip
from core.rate_limits import Counter, attempt_count, counter_key, limit_reached
from merchants.services.accreditation import AccreditationRequest, merchant_request_accreditation
from pwa.forms import AccreditationForm

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
