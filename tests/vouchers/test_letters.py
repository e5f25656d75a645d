"""Printed outcome letters and reports: whole words, appeal terms, the responsible officer."""

import re

import pypdfium2
import pytest
from django.urls import reverse

from reports.report import Dimension
from tests import factories
from tests.vouchers.test_programme import applicant, open_call, run_to_ranking
from vouchers.letters import today_label
from vouchers.models import Notification
from vouchers.outcome_letters import APPEAL_TERMS, outcome_letters_pdf, responsible_officer_line
from vouchers.services.applications import application_reject, application_submit
from vouchers.services.notifications import initiative_notify_outcomes

pytestmark = pytest.mark.django_db

LONG_TITLE = (  # near the 200 characters a call's title holds
    "Contributo straordinario per l'acquisto di generi alimentari, prodotti per l'igiene "
    "della persona e della casa, farmaci da banco e materiale scolastico per le famiglie "
    "residenti in difficoltà"
)
LONG_REASON = (
    "La dichiarazione sostitutiva unica presentata risulta incompleta perché mancano i redditi "
    "percepiti dal componente maggiorenne del nucleo familiare durante l'anno precedente, "
    "nonostante la richiesta di integrazione inviata dall'ufficio comunale competente."
)


assert len(LONG_TITLE) <= 200


def pdf_text(content: bytes) -> str:
    document = pypdfium2.PdfDocument(content)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", str(text))


def rejected_letter(**call) -> Notification:
    initiative = open_call(title=LONG_TITLE, **call)
    application = application_submit(
        initiative=initiative,
        data=applicant(initiative, 1, street="Via dei Mille 12", postal_code="40121"),
        channel="desk",
    )
    application_reject(application=application, reason=LONG_REASON, by=factories.user())
    initiative_notify_outcomes(initiative=initiative)
    return Notification.objects.select_related(
        "application__applicant", "application__municipality", "application__initiative"
    ).get()


def test_an_outcome_letter_wraps_between_words_never_inside_one():
    letter = rejected_letter()
    application = letter.application
    text = pdf_text(outcome_letters_pdf([letter]))
    printed = set(words(text))
    written = set(
        words(
            " ".join(
                [
                    application.municipality.name,
                    application.applicant.full_name,
                    application.street,
                    application.postal_code,
                    today_label(),
                    letter.subject,
                    letter.body,
                    responsible_officer_line(application),
                    str(APPEAL_TERMS),
                ]
            )
        )
    )
    # A word cut at the end of a line comes out as two pieces that are not words of the letter.
    assert printed <= written, sorted(printed - written)
    flat = " ".join(text.split())
    assert LONG_TITLE in flat
    assert LONG_REASON in flat


def test_an_outcome_letter_names_the_officer_and_how_to_appeal():
    letter = rejected_letter(responsible_officer="Dott.ssa Giulia Neri, Ufficio servizi sociali")
    flat = " ".join(pdf_text(outcome_letters_pdf([letter])).split())
    assert "Responsabile del procedimento: Dott.ssa Giulia Neri, Ufficio servizi sociali." in flat
    assert "ricorso al Tribunale amministrativo regionale (TAR) entro 60 giorni" in flat
    assert "ricorso straordinario al Presidente della Repubblica entro 120 giorni" in flat


def test_without_an_officer_the_letter_names_the_head_of_the_office():
    letter = rejected_letter()
    flat = " ".join(pdf_text(outcome_letters_pdf([letter])).split())
    municipality = letter.application.municipality.name
    assert (
        "Responsabile del procedimento: il responsabile dell'ufficio competente del "
        f"{municipality}." in flat
    )


def test_a_funded_letter_keeps_its_access_code_box():
    initiative, _applications = run_to_ranking(1)
    initiative_notify_outcomes(initiative=initiative)
    letter = Notification.objects.select_related(
        "application__applicant", "application__municipality", "application__initiative"
    ).get()
    flat = " ".join(
        pdf_text(outcome_letters_pdf([letter], access_codes={letter.pk: "ABCD-EFGH"})).split()
    )
    assert "Codice di accesso: ABCD-EFGH" in flat
    assert f"Codice fiscale: {letter.application.applicant.fiscal_code}" in flat
    assert "entro 120 giorni" in flat


def test_the_reports_pdf_prints_a_long_call_title_whole(admin_client):
    initiative = factories.initiative(budget="1000.00")
    initiative.title = LONG_TITLE
    initiative.save(update_fields=["title"])
    response = admin_client.get(
        reverse("admin-reports"),
        {"initiative": initiative.pk, "dimension": Dimension.INITIATIVE, "formato": "pdf"},
    )
    assert response.status_code == 200
    flat = " ".join(pdf_text(response.content).split())
    assert LONG_TITLE in flat
