"""The letters staff print: outcome letters and the desk's receipt of an application.

What they say, in the layout of ``vouchers.letters``; each names the responsible officer and,
for a decision, how to appeal against it. Printing the outcome letters, which records them
printed and gives new access codes, is ``vouchers.services.outcome_letters``.
"""

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from vouchers.letters import (
    Page,
    address_block,
    application_receipt_pdf,
    boxed,
    pages_pdf,
    paragraph,
    paragraphs,
    today_label,
)
from vouchers.models import Application, Notification, OutcomeTemplate
from vouchers.outcome_texts import DEFAULT_FUNDED_BY_KIND

# The outcomes that are decisions on the application, open to appeal.
APPEALABLE_OUTCOMES = (
    OutcomeTemplate.Outcome.FUNDED,
    OutcomeTemplate.Outcome.WAITING,
    OutcomeTemplate.Outcome.REJECTED,
)


def responsible_officer_line(application: Application) -> str:
    """Who answers for the procedure: the call's officer, or by law the office's head."""
    officer = application.initiative.responsible_officer.strip()
    if officer:
        return _("Responsabile del procedimento: %(officer)s.") % {"officer": officer}
    # Law 241/1990, art. 5: without an assignment, the head of the competent office.
    return _(
        "Responsabile del procedimento: il responsabile dell'ufficio competente del "
        "%(municipality)s."
    ) % {"municipality": application.municipality.name}


APPEAL_TERMS = gettext_lazy(
    "Contro questa decisione può presentare ricorso al Tribunale amministrativo regionale "
    "(TAR) entro 60 giorni dal ricevimento di questa comunicazione, oppure ricorso "
    "straordinario al Presidente della Repubblica entro 120 giorni."
)


def _letter_page(notification: Notification, access_code: str | None) -> Page:
    application = notification.application
    flowables = [
        paragraph(application.municipality.name, "heading"),
        Spacer(1, 8 * mm),
        address_block(
            [
                application.applicant.full_name,
                application.street,
                f"{application.postal_code} {application.municipality.name}".strip(),
            ]
        ),
        Spacer(1, 10 * mm),
        paragraph(today_label()),
        Spacer(1, 4 * mm),
        paragraph(notification.subject, "subject"),
        *paragraphs(notification.body),
        Spacer(1, 3 * mm),
        paragraph(responsible_officer_line(application), "small"),
    ]
    if notification.outcome in APPEALABLE_OUTCOMES:
        flowables.append(paragraph(APPEAL_TERMS, "small"))
    if access_code:
        flowables += [
            Spacer(1, 6 * mm),
            boxed(
                [
                    paragraph(
                        _("Per seguire il pagamento nell'app BuonoComune")
                        if application.initiative.benefit_kind in DEFAULT_FUNDED_BY_KIND
                        else _("Per vedere i buoni nell'app BuonoComune"),
                        "subject",
                    ),
                    paragraph(
                        _("Codice fiscale: %(code)s") % {"code": application.applicant.fiscal_code}
                    ),
                    paragraph(_("Codice di accesso: %(code)s") % {"code": access_code}, "code"),
                    paragraph(
                        _(
                            "Conservalo: serve per entrare senza e-mail. Allo sportello te ne "
                            "danno uno nuovo."
                        ),
                        "small",
                    ),
                ]
            ),
        ]
    return Page(flowables)


def outcome_letters_pdf(
    notifications: list[Notification], *, access_codes: dict[int, str] | None = None
) -> bytes:
    """Return the letters to print, one A4 sheet each, with the applicant's address.

    Each carries the responsible officer and, for a decision, how to appeal against it.
    ``access_codes`` maps a notification id to the app access code printed on its letter.
    """
    access_codes = access_codes or {}
    return pages_pdf(
        [_letter_page(n, access_codes.get(n.pk)) for n in notifications],
        title=_("Lettere di esito"),
    )


def contact_path(application: Application) -> str:
    """How the outcome will reach the applicant, as ``initiative_notify_outcomes`` chooses."""
    applicant = application.applicant
    if applicant.email:
        return _("per e-mail a %(email)s") % {"email": applicant.email}
    if applicant.phone:
        return _("per SMS al numero %(phone)s") % {"phone": applicant.phone}
    address = f"{application.street}, {application.postal_code} {application.municipality.name}"
    return _("con una lettera all'indirizzo %(address)s") % {"address": address}


def receipt_texts(application: Application) -> tuple[list[str], list[str]]:
    """What the desk's receipt says comes next, and its closing lines."""
    officer = responsible_officer_line(application)
    if application.status == Application.Status.REJECTED:
        last_decision = application.decisions.order_by("-decided_at", "-id").first()
        return (
            [
                _("La domanda è registrata ed è stata respinta. Motivazione: %(reason)s")
                % {"reason": last_decision.reason if last_decision else ""},
                _("Riceverà anche la comunicazione formale dell'esito %(path)s.")
                % {"path": contact_path(application)},
            ],
            [officer, str(APPEAL_TERMS)],
        )
    close = application.initiative.applications_close_at
    return (
        [
            _(
                "L'ufficio esamina la domanda e può chiederle documenti o chiarimenti "
                "(soccorso istruttorio)."
            ),
            _(
                "Chiuse le domande il %(date)s, le domande ammesse sono messe in graduatoria "
                "secondo i criteri del bando e finanziate fino a esaurimento del budget."
            )
            % {"date": formats.date_format(timezone.localtime(close)) if close else "—"},
            _("L'esito le sarà comunicato %(path)s.") % {"path": contact_path(application)},
        ],
        [
            officer,
            _(
                "Conservi questa ricevuta: il numero di protocollo identifica la domanda in "
                "ogni comunicazione con l'ufficio."
            ),
        ],
    )


def application_receipt_print(*, application: Application) -> bytes:
    """The desk's printable receipt of an application, with its protocol number."""
    next_steps, closing = receipt_texts(application)
    return application_receipt_pdf(application, next_steps=next_steps, closing=closing)
