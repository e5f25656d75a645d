"""Uploaded files are served by views that check who asks, never from an open ``/media/``."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import clear_url_caches, reverse

from core.models import Role
from tests import factories
from tests.vouchers.test_reimbursement_review import claim_of, funded_application, ranked, staff
from vouchers.models import Initiative, InitiativeDocument
from vouchers.services.access import beneficiary_user
from vouchers.services.applications import application_document_add

pytestmark = pytest.mark.django_db

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4\n% bando\n"
ISEE = b"%PDF-1.4\n% ISEE di Mario Rossi\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def uploads():
    """A reimbursement call with an ISEE certificate and a receipt of its one applicant."""
    application = funded_application()
    other = funded_application(2, initiative=application.initiative)
    ranked(application, other)
    document = application_document_add(
        application=application,
        uploaded=SimpleUploadedFile("isee.pdf", ISEE),
        title="ISEE 2026",
    )
    claim = claim_of(application, "30.00")
    return {"application": application, "document": document, "claim": claim, "other": other}


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def private_urls(uploads) -> dict[str, str]:
    application, document, claim = uploads["application"], uploads["document"], uploads["claim"]
    expense = claim.expenses.get()
    return {
        "app:document": reverse(
            "webapp:my-application-document", args=[application.pk, document.pk]
        ),
        "app:receipt": reverse("webapp:my-expense-receipt", args=[claim.pk, expense.pk]),
        "admin:document": reverse(
            "admin:vouchers_application_document", args=[application.pk, document.pk]
        ),
        "admin:receipt": reverse(
            "admin:vouchers_reimbursementclaim_receipt", args=[claim.pk, expense.pk]
        ),
    }


@pytest.fixture
def development_urls(settings):
    """The URLs as ``make run`` builds them: with ``DEBUG`` on, as without BUONOCOMUNE_ENV."""
    import config.urls

    settings.DEBUG = True
    importlib.reload(config.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(config.urls)
    clear_url_caches()


def test_no_open_media_route_serves_a_receipt_or_an_isee_certificate(
    client, uploads, development_urls
):
    for stored in (uploads["document"].file, uploads["claim"].expenses.get().receipt):
        assert os.path.exists(stored.path)
        assert client.get(f"/media/{stored.name}").status_code == 404
        client.force_login(factories.user(is_staff=True, is_superuser=True))
        assert client.get(f"/media/{stored.name}").status_code == 404
        client.logout()


def test_an_anonymous_visitor_is_sent_to_log_in_and_gets_no_file(client, uploads):
    for name, url in private_urls(uploads).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert "/accesso/" in response["Location"] or "/admin/login/" in response["Location"]


def test_another_beneficiary_gets_no_file(client, uploads):
    client.force_login(beneficiary_user(beneficiary=uploads["other"].applicant))
    urls = private_urls(uploads)
    assert client.get(urls["app:document"]).status_code == 404
    assert client.get(urls["app:receipt"]).status_code == 404
    # A beneficiary is no staff: the admin's pages send him to the staff login.
    assert client.get(urls["admin:document"]).status_code == 302
    assert client.get(urls["admin:receipt"]).status_code == 302


def test_staff_of_another_municipality_get_no_file(client, uploads):
    stranger = staff(Role.VALIDATOR, factories.municipality())
    client.force_login(stranger)
    urls = private_urls(uploads)
    assert client.get(urls["admin:document"]).status_code == 404
    assert client.get(urls["admin:receipt"]).status_code == 404
    # Staff are no beneficiaries: the app's pages send them to the beneficiaries' login.
    assert client.get(urls["app:document"]).status_code == 302
    assert client.get(urls["app:receipt"]).status_code == 302


def test_the_owner_downloads_his_own_certificate_and_receipt_from_the_app(client, uploads):
    application = uploads["application"]
    client.force_login(beneficiary_user(beneficiary=application.applicant))
    urls = private_urls(uploads)
    page = client.get(reverse("webapp:my-application", args=[application.pk])).content.decode()
    assert urls["app:document"] in page
    assert urls["app:receipt"] in client.get(reverse("webapp:my-claims")).content.decode()

    document = client.get(urls["app:document"])
    assert document.status_code == 200 and body(document) == ISEE
    assert document["Content-Type"] == "application/pdf"
    assert document["Content-Disposition"].startswith("attachment;")
    assert document["Cache-Control"] == "private, no-store"
    receipt = client.get(urls["app:receipt"])
    assert receipt.status_code == 200 and receipt["Content-Type"] == "image/jpeg"
    assert body(receipt).startswith(b"\xff\xd8\xff")


def test_staff_entitled_to_the_application_download_the_files_in_the_admin(client, uploads):
    town = uploads["application"].municipality
    client.force_login(staff(Role.VALIDATOR, town))
    urls = private_urls(uploads)
    document = client.get(urls["admin:document"])
    assert document.status_code == 200 and body(document) == ISEE
    receipt = client.get(urls["admin:receipt"])
    assert receipt.status_code == 200 and receipt["Content-Type"] == "image/jpeg"


def test_a_file_missing_from_the_storage_is_not_found_in_the_app_and_the_admin(client, uploads):
    application, document = uploads["application"], uploads["document"]
    expense = uploads["claim"].expenses.get()
    document.file.storage.delete(document.file.name)
    expense.receipt.storage.delete(expense.receipt.name)
    urls = private_urls(uploads)
    client.force_login(staff(Role.VALIDATOR, application.municipality))
    assert client.get(urls["admin:document"]).status_code == 404
    assert client.get(urls["admin:receipt"]).status_code == 404
    client.logout()
    client.force_login(beneficiary_user(beneficiary=application.applicant))
    assert client.get(urls["app:document"]).status_code == 404
    assert client.get(urls["app:receipt"]).status_code == 404


def published_call_with_document() -> tuple[Initiative, InitiativeDocument]:
    initiative = factories.initiative(status=Initiative.Status.PUBLISHED)
    document = InitiativeDocument(initiative=initiative, title="Avviso pubblico")
    document.file.save("avviso.pdf", ContentFile(PDF))
    return initiative, document


def test_a_published_calls_document_is_linked_and_downloaded_by_anyone(client):
    initiative, document = published_call_with_document()
    page = client.get(reverse("webapp:initiative", args=[initiative.pk])).content.decode()
    url = reverse("webapp:initiative-document", args=[initiative.pk, document.pk])
    assert f'href="{url}"' in page and "/media/" not in page
    response = client.get(url)
    assert response.status_code == 200 and body(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="avviso.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_draft_calls_document_and_a_missing_file_are_not_found(client):
    initiative, document = published_call_with_document()
    url = reverse("webapp:initiative-document", args=[initiative.pk, document.pk])
    Initiative.objects.filter(pk=initiative.pk).update(status=Initiative.Status.DRAFT)
    assert client.get(url).status_code == 404
    Initiative.objects.filter(pk=initiative.pk).update(status=Initiative.Status.PUBLISHED)
    document.file.delete(save=False)
    assert client.get(url).status_code == 404
    other = factories.initiative(status=Initiative.Status.PUBLISHED)
    wrong_call = reverse("webapp:initiative-document", args=[other.pk, document.pk])
    assert client.get(wrong_call).status_code == 404


PRODUCTION_DOWNLOAD = """
import django
django.setup()
from django.db import connection
# The tables as the models describe them, without replaying every migration.
connection.settings_dict["TEST"] = {"MIGRATE": False, "NAME": None}
connection.creation.create_test_db(verbosity=0)
from django.core.files.base import ContentFile
from django.test import Client
from tests import factories
from vouchers.models import Initiative, InitiativeDocument

initiative = factories.initiative(status=Initiative.Status.PUBLISHED)
document = InitiativeDocument(initiative=initiative, title="Avviso")
document.file.save("avviso.pdf", ContentFile(b"%PDF-1.4 avviso"))
client = Client(HTTP_HOST="buonocomune.example.org", headers={"X-Forwarded-Proto": "https"})
response = client.get(f"/bandi/{initiative.pk}/documenti/{document.pk}/", secure=True)
media = client.get("/media/" + document.file.name, secure=True)
print(response.status_code, response["Content-Type"],
      b"".join(response.streaming_content).decode(), media.status_code)
"""


def test_a_calls_document_downloads_under_production_settings(tmp_path):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"}
        and not key.startswith("PYTEST")
    }
    environment.update(
        BUONOCOMUNE_ENV="production",
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="s" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="buonocomune.example.org",
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        MEDIA_ROOT=str(tmp_path / "media"),
        SMS_ENABLED="false",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_DOWNLOAD],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["200", "application/pdf", "%PDF-1.4", "avviso", "404"]


def test_staff_reach_a_draft_calls_document_from_its_admin_page_and_others_do_not(client):
    initiative, document = published_call_with_document()
    Initiative.objects.filter(pk=initiative.pk).update(status=Initiative.Status.DRAFT)
    url = reverse("webapp:initiative-document", args=[initiative.pk, document.pk])
    manager = staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get())
    client.force_login(manager)
    page = client.get(reverse("admin:vouchers_initiative_change", args=[initiative.pk]))
    assert page.status_code == 200
    assert f'href="{url}"' in page.content.decode() and "/media/" not in page.content.decode()
    response = client.get(url)
    assert response.status_code == 200 and body(response) == PDF
    assert response["Cache-Control"] == "private, no-store"

    client.force_login(staff(Role.PROGRAMME_MANAGER, factories.municipality()))
    assert client.get(url).status_code == 404
