"""A citizen downloads a published call's notice from its page in the browser."""

import pytest
from django.core.files.base import ContentFile

from tests import factories
from vouchers.models import Initiative, InitiativeDocument

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n% avviso pubblico\n"


def test_a_citizen_downloads_the_notice_of_a_published_call(
    live_server, launch_browser, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    initiative = factories.initiative(status=Initiative.Status.PUBLISHED)
    document = InitiativeDocument(initiative=initiative, title="Avviso pubblico")
    document.file.save("avviso.pdf", ContentFile(PDF))

    page = launch_browser().new_page()
    page.goto(f"{live_server.url}/bandi/{initiative.pk}/")
    link = page.get_by_role("link", name="Avviso pubblico (PDF)")
    with page.expect_response(lambda response: "/documenti/" in response.url) as answer:
        try:
            link.click()
        except Exception:  # Chromium may take the PDF as a download instead of showing it
            pass
    response = answer.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    # Chromium shows the PDF in its viewer; the file itself, fetched again, is the notice.
    assert page.request.get(response.url).body() == PDF
