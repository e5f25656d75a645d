from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class VoucherError(DomainError):
    """Why a voucher cannot be issued, spent, expired or revoked."""

    messages = {
        "invalid_code_format": _(
            "Il codice del buono non è valido: sono 20 caratteri tra lettere e cifre."
        ),
        "voucher_not_found": _("Nessun buono corrisponde a questo codice."),
        "voucher_expired": _("Il buono è scaduto e non si può più usare."),
        "voucher_not_yet_valid": _("Il buono non è ancora valido: si potrà usare dal %(date)s."),
        "voucher_revoked": _("Il buono è stato revocato dal Comune e non si può usare."),
        "voucher_exhausted": _("Il buono è già stato speso tutto."),
        "insufficient_balance": _("Il saldo del buono (%(balance)s) non basta per questo importo."),
        "partial_not_allowed": _(
            "Questo buono ha un taglio fisso: si spende tutto in una volta (%(balance)s)."
        ),
        "invalid_amount": _("Importo non valido: scrivi un importo in euro maggiore di zero."),
        "insufficient_budget": _("Il budget del bando non basta per emettere questi buoni."),
        "beneficiary_not_resident": _(
            "%(name)s non risiede in uno dei comuni che partecipano al bando."
        ),
        "initiative_archived": _("Il bando è archiviato: non si emettono altri buoni."),
        "not_a_voucher_call": _(
            "Questo bando paga con bonifico (contributi o rimborsi): non emette buoni."
        ),
        "not_expired_yet": _("Il buono è ancora nel periodo di validità."),
        "reason_required": _("Indica il motivo."),
    }
