"""The default texts of the outcome messages, for a call without its own (``OutcomeTemplate``)."""

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy

from vouchers.models import Initiative, OutcomeTemplate

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

DEFAULT_TEXTS = {
    OutcomeTemplate.Outcome.FUNDED: (
        gettext_lazy("Esito della domanda $protocollo: ammessa"),
        gettext_lazy(
            "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune è stata "
            "ammessa e finanziata per $importo.\nI buoni sono nell'app BuonoComune; chi non "
            "ha lo smartphone può ritirarli stampati allo sportello del Comune."
        ),
    ),
    OutcomeTemplate.Outcome.WAITING: (
        gettext_lazy("Esito della domanda $protocollo: lista d'attesa"),
        gettext_lazy(
            "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune è stata "
            "ammessa ed è in lista d'attesa alla posizione $posizione. Se si liberano fondi "
            "sarà finanziata e riceverà un nuovo avviso."
        ),
    ),
    OutcomeTemplate.Outcome.ISSUED: (
        gettext_lazy("Domanda $protocollo: i buoni sono disponibili"),
        gettext_lazy(
            "Gentile $nome,\ni buoni della sua domanda $protocollo per «$bando» del $comune, "
            "per $importo, sono stati emessi: li trova nell'app BuonoComune; chi non ha lo "
            "smartphone può ritirarli stampati allo sportello del Comune."
        ),
    ),
    OutcomeTemplate.Outcome.REJECTED: (
        gettext_lazy("Esito della domanda $protocollo: non ammessa"),
        gettext_lazy(
            "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune non è stata "
            "ammessa per questo motivo: $motivazione\nPuò chiedere chiarimenti allo sportello "
            "del Comune."
        ),
    ),
}


# A funded applicant of a voucher call told before the vouchers are issued: they are not in
# the app yet, and a second notice (ISSUED) follows when they are.
DEFAULT_FUNDED_BEFORE_ISSUE = (
    gettext_lazy("Esito della domanda $protocollo: ammessa"),
    gettext_lazy(
        "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune è stata "
        "ammessa e finanziata per $importo.\nI buoni non sono ancora stati emessi: riceverà "
        "un nuovo avviso quando saranno disponibili nell'app BuonoComune o, per chi non ha "
        "lo smartphone, da ritirare stampati allo sportello del Comune."
    ),
)


# A funded applicant of a call that pays by transfer gets no vouchers: what he gets instead.
# Keyed by ``Initiative.benefit_kind``, a plain string on the instance.
DEFAULT_FUNDED_BY_KIND: "dict[str, tuple[StrPromise, StrPromise]]" = {
    Initiative.BenefitKind.CASH_TRANSFER: (
        gettext_lazy("Esito della domanda $protocollo: ammessa"),
        gettext_lazy(
            "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune è stata "
            "ammessa e finanziata: riceverà un contributo di $importo, pagato con bonifico "
            "sul conto con IBAN che termina con $iban. Lo stato del pagamento è nell'app "
            "BuonoComune o allo sportello del Comune."
        ),
    ),
    Initiative.BenefitKind.REIMBURSEMENT: (
        gettext_lazy("Esito della domanda $protocollo: ammessa"),
        gettext_lazy(
            "Gentile $nome,\nla sua domanda $protocollo per «$bando» del $comune è stata "
            "ammessa e finanziata fino a $importo: può chiedere il rimborso delle spese "
            "sostenute, con gli scontrini, nell'app BuonoComune o allo sportello del Comune. "
            "Il rimborso sarà pagato con bonifico sul conto con IBAN che termina con $iban."
        ),
    ),
}
