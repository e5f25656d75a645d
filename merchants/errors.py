from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from vouchers.errors import VoucherError

if TYPE_CHECKING:
    from vouchers.models import Voucher


class RedemptionError(VoucherError):
    """Why a shop cannot check, spend or void a voucher."""

    # Set on a refusal about a known voucher, for the audit (``refused_attempt_record`` reads
    # it with ``getattr``): declared only, no class default.
    voucher: "Voucher"

    messages = {
        **VoucherError.messages,
        # The API's amount: the sentence says the format the schema publishes.
        "invalid_amount": _(
            "Importo non valido: scrivi un importo in euro maggiore di zero, in cifre, con il "
            "punto e al massimo due decimali (per esempio 12.50)."
        ),
        "merchant_not_in_circuit": _(
            "Questo negozio non fa parte del circuito del bando di questo buono."
        ),
        "merchant_suspended": _(
            "Il negozio è sospeso dal circuito: non può accettare buoni. Contatta il Comune."
        ),
        "merchant_not_accredited": _(
            "Il negozio non è ancora accreditato: non può accettare buoni."
        ),
        "idempotency_key_missing": _(
            "Manca l'intestazione Idempotency-Key (da 1 a 255 caratteri)."
        ),
        "idempotency_key_reused": _(
            "Questa Idempotency-Key è già stata usata per un'altra operazione."
        ),
        "idempotency_key_closed": _(
            "La cassa aveva già verificato che questa vendita non era arrivata e l'ha chiusa: "
            "nulla è stato addebitato. Se serve, ripeti la vendita."
        ),
        "void_window_closed": _(
            "Un utilizzo si può annullare solo nel giorno in cui è stato fatto."
        ),
        "already_voided": _("Questo utilizzo è già stato annullato."),
        "already_settled": _("Questo utilizzo è già stato liquidato al negozio: non si annulla."),
        "redemption_not_found": _("Utilizzo non trovato."),
        "not_your_redemption": _("Puoi annullare solo gli utilizzi che hai fatto tu."),
        "authentication_failed": _("Chiave del dispositivo non valida o revocata."),
        "rate_limited": _("Troppi codici sconosciuti in poco tempo. Riprova tra qualche minuto."),
        "nothing_to_settle": _("Non ci sono utilizzi da liquidare."),
        "invalid_merchant_transition": _(
            "Un esercente «%(from_status)s» non può passare a «%(to_status)s»."
        ),
    }
