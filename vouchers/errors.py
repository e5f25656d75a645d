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


class ProgrammeError(DomainError):
    """Why a step of a call cannot be taken now."""

    messages = {
        "invalid_transition": _("Il bando è «%(status)s»: questa operazione non è possibile ora."),
        "window_missing": _("Indica apertura e chiusura delle domande prima di pubblicare."),
        "budget_missing": _("Assegna un budget dal fondo prima di pubblicare."),
        "municipalities_missing": _("Indica almeno un comune partecipante."),
        "categories_missing": _("Indica almeno una categoria di spesa ammessa."),
        "applications_closed": _("Le domande per questo bando non sono aperte."),
        "already_applied": _(
            "Questo codice fiscale ha già una domanda per questo bando (%(protocol)s)."
        ),
        "invalid_fiscal_code": _("Codice fiscale non valido: controlla lettere e cifre."),
        "fiscal_code_mismatch": _(
            "Il codice fiscale non corrisponde a data di nascita e sesso indicati."
        ),
        "not_resident": _("Il richiedente non risiede in uno dei comuni del bando."),
        "declarations_missing": _("Mancano dichiarazioni obbligatorie: %(missing)s."),
        "isee_required": _("Indica il valore ISEE."),
        "isee_too_high": _("L'ISEE (%(isee)s) supera il massimo del bando (%(max)s)."),
        "household_too_small": _("Il nucleo ha meno componenti di quanti chiede il bando."),
        "household_too_large": _("Il nucleo ha più componenti di quanti ammette il bando."),
        "not_enough_children": _("Il nucleo non ha abbastanza figli nella fascia d'età del bando."),
        "iban_required": _(
            "Per un bando che paga con bonifico (rimborso o contributo economico) serve l'IBAN."
        ),
        "invalid_iban": _("IBAN non valido: controlla paese, cifre di controllo e CIN."),
        "invalid_isee": _("Valore ISEE non valido."),
        "reason_required": _("Indica la motivazione."),
        "four_eyes": _(
            "Non puoi decidere una domanda che hai inserito tu: serve un altro convalidatore."
        ),
        "application_not_open": _("La domanda è «%(status)s»: questa decisione non è possibile."),
        "applications_pending": _(
            "Ci sono ancora %(count)s domande da istruire: decidile prima della graduatoria."
        ),
        "member_duplicate": _("Lo stesso codice fiscale compare due volte nel nucleo."),
        "not_a_voucher_call": _("Questo bando non emette buoni."),
    }
