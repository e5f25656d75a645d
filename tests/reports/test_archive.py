"""The archive of a closed call: one ZIP with data, files and a verifiable SHA-256 manifest."""

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from core.sepa import NAMESPACE, validate_pain001
from core.services.payments import payment_batch_export, payment_batch_release
from merchants.services.redemption import voucher_redeem
from merchants.services.settlements import merchant_payment_batch_prepare, settlements_run
from merchants.services.tills import Till
from reports.archive.build import initiative_archive_zip
from reports.archive.exports import (
    archive_export_build,
    archive_export_download,
    archive_export_request,
)
from reports.archive.writer import ArchiveError
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import (
    ArchiveExport,
    Initiative,
    InitiativeDocument,
    Notification,
    Voucher,
)
from vouchers.services.applications import (
    MemberData,
    application_approve,
    application_document_add,
    application_reject,
    application_submit,
)
from vouchers.services.archive_exports import archive_exports_purge
from vouchers.services.initiatives import initiative_close
from vouchers.services.issuing import initiative_issue
from vouchers.services.notifications import initiative_notify_outcomes
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% a small test document\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def closed_programme() -> dict:
    """A call taken to the end: applications with a document, a ranking, vouchers, a sale,
    a settlement paid through an exported batch and an outcome letter to print."""
    initiative = open_call()
    InitiativeDocument.objects.create(
        initiative=initiative, title="Avviso", file=ContentFile(PDF, name="avviso pubblico.pdf")
    )
    desk, validator = factories.user(), factories.user()
    member_code = applicant(initiative, 90).fiscal_code
    with_family = application_submit(
        initiative=initiative,
        data=applicant(
            initiative,
            1,
            email="mario.rossi@example.org",
            phone="3331234567",
            street="Via Garibaldi 3",
            postal_code="00100",
            iban=factories.VALID_IBAN,
            members=[
                MemberData(member_code, "Lucia", "Rossi", applicant(initiative, 90).birth_date)
            ],
        ),
        channel="desk",
        entered_by=desk,
    )
    application_document_add(
        application=with_family,
        uploaded=SimpleUploadedFile("isee 2026.pdf", PDF, content_type="application/pdf"),
        title="ISEE",
        uploaded_by=desk,
    )
    by_letter = application_submit(
        initiative=initiative, data=applicant(initiative, 2), channel="desk", entered_by=desk
    )
    refused = application_submit(
        initiative=initiative, data=applicant(initiative, 3), channel="desk", entered_by=desk
    )
    initiative_close(initiative=initiative)
    application_approve(application=with_family, reason="Requisiti ok", by=validator)
    application_approve(application=by_letter, reason="Requisiti ok", by=validator)
    application_reject(application=refused, reason="ISEE non valido", by=validator)
    initiative_rank(initiative=initiative)
    initiative_issue(initiative=initiative)
    initiative_notify_outcomes(initiative=initiative)
    shop = factories.merchant(initiative=initiative)
    voucher = Voucher.objects.filter(initiative=initiative).order_by("pk").first()
    voucher_redeem(
        till=Till(merchant=shop), code=voucher.code, amount="12.34", idempotency_key="k-archive"
    )
    [settlement] = settlements_run()
    batch = merchant_payment_batch_prepare(settlements=[settlement], prepared_by=desk)
    payment_batch_release(batch=batch, released_by=validator)
    payment_batch_export(batch=batch, out=io.BytesIO(), exported_by=validator)
    initiative.refresh_from_db()
    return {
        "initiative": initiative,
        "applications": [with_family, by_letter, refused],
        "settlement": settlement,
        "batch": batch,
        "shop": shop,
        "staff": (desk, validator),
    }


def build(initiative, **kwargs) -> zipfile.ZipFile:
    out = io.BytesIO()
    initiative_archive_zip(initiative=initiative, out=out, **kwargs)
    out.seek(0)
    return zipfile.ZipFile(out)


def read_csv(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.read(name).decode())))


def test_the_archive_holds_every_record_and_file_of_the_call():
    data = closed_programme()
    archive = build(data["initiative"])
    names = archive.namelist()
    for name in (
        "bando.json",
        "riepilogo.csv",
        "domande.csv",
        "componenti_dei_nuclei.csv",
        "decisioni.csv",
        "graduatoria.csv",
        "buoni.csv",
        "utilizzi.csv",
        "liquidazioni.csv",
        "contabilita.csv",
        "comunicazioni.csv",
        "indice.json",
        "INDICE.sha256",
    ):
        assert name in names
    assert names[-2:] == ["indice.json", "INDICE.sha256"]
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in archive.infolist())

    call = json.loads(archive.read("bando.json"))
    assert call["initiative"]["title"] == data["initiative"].title
    assert call["initiative"]["amount_base"] == "100.00"
    assert call["documents"][0]["title"] == "Avviso"

    applications = read_csv(archive, "domande.csv")
    assert len(applications) == 1 + 3
    assert applications[1][4] == data["applications"][0].applicant.fiscal_code
    assert applications[1][7] == "mario.rossi@example.org"
    assert applications[1][18] == "2"  # applicant and one household member
    ranking = read_csv(archive, "graduatoria.csv")
    assert [row[0] for row in ranking[1:]] == ["1", "2"]
    assert len(read_csv(archive, "decisioni.csv")) == 1 + 3
    vouchers = read_csv(archive, "buoni.csv")
    assert len(vouchers) == 1 + 2
    full_codes = set(Voucher.objects.values_list("code", flat=True))
    assert not any(code in archive.read("buoni.csv").decode() for code in full_codes)
    [redemption] = read_csv(archive, "utilizzi.csv")[1:]
    assert redemption[8] == "12.34"
    [settlement] = read_csv(archive, "liquidazioni.csv")[1:]
    assert settlement[0] == str(data["settlement"].pk)
    assert settlement[8] == "12.34" and settlement[9] == data["batch"].message_id
    ledger = read_csv(archive, "contabilita.csv")[1:]
    kinds = {row[1] for row in ledger}
    assert {"Budget assegnato al bando", "Buoni emessi", "Utilizzo del buono"} <= kinds
    assert "Liquidazione all'esercente" in kinds
    journals: dict[str, int] = {}
    for row in ledger:  # every journal in the file is whole: its lines sum to zero
        journals[row[0]] = journals.get(row[0], 0) + round(float(row[8]) * 100)
    assert set(journals.values()) == {0}

    assert any(n.startswith("documenti/") and n.endswith("avviso_pubblico.pdf") for n in names)
    [attachment] = [n for n in names if n.startswith("allegati/domande/")]
    assert archive.read(attachment) == PDF
    assert f"liquidazioni/estratto-conto-{data['settlement'].pk:08d}.pdf" in names
    assert {
        "rendicontazione/rendicontazione-per-bando.csv",
        "rendicontazione/rendicontazione-per-negozio.pdf",
    } <= set(names)
    assert Notification.objects.filter(channel=Notification.Channel.LETTER).exists()
    assert archive.read("lettere/lettere-di-esito-0001.pdf").startswith(b"%PDF")


def test_the_payment_file_of_the_batch_that_paid_the_shop_is_in_the_archive():
    data = closed_programme()
    archive = build(data["initiative"])
    xml = archive.read(f"distinte/{data['batch'].message_id}.xml")
    validate_pain001(xml)
    again = io.BytesIO()
    payment_batch_export(batch=data["batch"], out=again)
    assert xml == again.getvalue()  # the very file the bank received
    tree = etree.fromstring(xml)
    amounts = tree.findall(".//p:InstdAmt", {"p": NAMESPACE})
    assert [a.text for a in amounts] == ["12.34"]


def test_the_manifest_lists_every_file_with_its_sha256_as_sha256sum_does():
    data = closed_programme()
    author = data["staff"][1]
    archive = build(data["initiative"], by=author)
    lines = archive.read("INDICE.sha256").decode().splitlines()
    listed = {}
    for line in lines:
        digest, path = line.split("  ", 1)
        listed[path] = digest
    others = [n for n in archive.namelist() if n != "INDICE.sha256"]
    assert sorted(listed) == sorted(others)
    for name in others:
        assert hashlib.sha256(archive.read(name)).hexdigest() == listed[name], name
    manifest = json.loads(archive.read("indice.json"))
    assert manifest["generated_by"] == author.username
    assert manifest["generated_at"]
    sizes = {f["path"]: f["size"] for f in manifest["files"]}
    assert sizes["domande.csv"] == len(archive.read("domande.csv"))
    assert manifest["missing_files"] == []


def test_an_archive_made_twice_has_the_same_files_and_contents():
    data = closed_programme()
    first, second = build(data["initiative"]), build(data["initiative"])
    assert first.namelist() == second.namelist()
    for name in first.namelist():
        if (
            name in {"indice.json", "INDICE.sha256"}
            or name.startswith(("lettere/", "rendicontazione/"))
            and name.endswith(".pdf")
        ):
            continue  # the time of generation printed on regenerated letters and reports
        assert first.read(name) == second.read(name), name


def test_an_open_call_is_not_archived():
    initiative = open_call()
    out = io.BytesIO()
    with pytest.raises(ArchiveError) as error:
        initiative_archive_zip(initiative=initiative, out=out)
    assert error.value.code == "not_closed"
    assert "Pubblicato" in error.value.detail
    assert out.getvalue() == b""


def test_a_missing_stored_file_is_reported_not_fatal():
    data = closed_programme()
    document = data["initiative"].documents.get()
    document.file.storage.delete(document.file.name)
    archive = build(data["initiative"])
    manifest = json.loads(archive.read("indice.json"))
    assert len(manifest["missing_files"]) == 1
    assert manifest["missing_files"][0].startswith("documenti/")


# --- The command ------------------------------------------------------------------------------


@pytest.fixture
def out_dir(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def test_the_command_writes_the_zip_and_prints_its_sha256(out_dir):
    data = closed_programme()
    target = out_dir / "bando.zip"
    output = io.StringIO()
    call_command(
        "archive_initiative", str(data["initiative"].pk), "--out", str(target), stdout=output
    )
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert f"SHA-256 {digest}  bando.zip" in output.getvalue()
    assert zipfile.ZipFile(target).testzip() is None
    assert [p.name for p in out_dir.iterdir()] == ["bando.zip"]  # no temporary file left


def test_the_command_refuses_to_overwrite_without_force(out_dir):
    data = closed_programme()
    target = out_dir / "bando.zip"
    target.write_bytes(b"keep me")
    with pytest.raises(CommandError, match="--force"):
        call_command("archive_initiative", str(data["initiative"].pk), "--out", str(target))
    assert target.read_bytes() == b"keep me"
    call_command(
        "archive_initiative",
        str(data["initiative"].pk),
        "--out",
        str(target),
        "--force",
        stdout=io.StringIO(),
    )
    assert zipfile.is_zipfile(target)


def test_the_command_leaves_nothing_behind_when_the_call_is_open(out_dir):
    initiative = open_call()
    target = out_dir / "bando.zip"
    with pytest.raises(CommandError, match="chiuso"):
        call_command("archive_initiative", str(initiative.pk), "--out", str(target))
    assert list(out_dir.iterdir()) == []
    with pytest.raises(CommandError, match="non trovato"):
        call_command("archive_initiative", "999999", "--out", str(target))


def test_the_command_has_help(capsys):
    with pytest.raises(SystemExit):
        call_command("archive_initiative", "--help")
    text = capsys.readouterr().out
    assert "--force" in text and "--out" in text and "SHA-256" in text


# --- The admin ----------------------------------------------------------------------------------


def prepare_from_the_call_page(client, initiative, capture):
    """Ask for the archive as staff do: the action's page, then its confirmation."""
    url = reverse("admin:vouchers_initiative_archive_prepare_detail", args=[initiative.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "in secondo piano" in page.content.decode()
    with capture(execute=True):
        return client.post(url, {"confirm": "yes"})


def test_staff_prepare_the_archive_in_the_background_then_download_it(
    client, django_capture_on_commit_callbacks
):
    data = closed_programme()
    admin_user = factories.user(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    response = prepare_from_the_call_page(
        client, data["initiative"], django_capture_on_commit_callbacks
    )
    export = ArchiveExport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:vouchers_archiveexport_change", args=[export.pk])
    assert export.status == ArchiveExport.Status.DONE  # tasks run inline in the tests
    assert export.requested_by == admin_user
    assert export.expires_at > export.finished_at
    page = client.get(response["Location"]).content.decode()
    assert "Pronto" in page and "Scarica" in page

    download = client.get(reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert "attachment" in download["Content-Disposition"]
    assert f"bando-{data['initiative'].pk}-archivio.zip" in download["Content-Disposition"]
    assert "no-store" in download["Cache-Control"]
    body = b"".join(download.streaming_content)
    assert hashlib.sha256(body).hexdigest() == export.sha256
    assert len(body) == export.size
    archive = zipfile.ZipFile(io.BytesIO(body))
    manifest = json.loads(archive.read("indice.json"))
    assert manifest["generated_by"] == admin_user.username
    assert export.files_count == len(archive.namelist())

    export.refresh_from_db()
    assert export.downloads == 1
    assert export.last_downloaded_by == admin_user
    call_page = client.get(
        reverse("admin:vouchers_initiative_change", args=[data["initiative"].pk])
    ).content.decode()
    assert reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]) in call_page


def test_asking_twice_while_it_is_being_prepared_prepares_one(django_capture_on_commit_callbacks):
    data = closed_programme()
    staff = factories.user(is_staff=True)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = archive_export_request(initiative=data["initiative"], by=staff)
        again = archive_export_request(initiative=data["initiative"], by=staff)
    assert first.pk == again.pk
    assert ArchiveExport.objects.count() == 1
    assert len(queued) == 1
    # The task delivered twice (a worker lost after it started): built once.
    built = archive_export_build(export=first)
    assert built.status == ArchiveExport.Status.DONE
    name = built.file.name
    assert archive_export_build(export=first).file.name == name
    assert ArchiveExport.objects.get().status == ArchiveExport.Status.DONE


def test_an_export_lost_by_its_worker_does_not_block_a_new_one(settings):
    data = closed_programme()
    settings.ARCHIVE_EXPORT_STALE_MINUTES = 60
    lost = ArchiveExport.objects.create(
        initiative=data["initiative"],
        status=ArchiveExport.Status.RUNNING,
        created_at=timezone.now() - timedelta(minutes=61),
    )
    fresh = archive_export_request(initiative=data["initiative"], by=None)
    assert fresh.pk != lost.pk


def test_an_open_call_is_not_prepared_and_nothing_is_queued(client):
    initiative = open_call()
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    url = reverse("admin:vouchers_initiative_archive_prepare_detail", args=[initiative.pk])
    response = client.post(url, {"confirm": "yes"}, follow=True)
    assert response.redirect_chain
    assert "chiuso" in response.content.decode()
    assert not ArchiveExport.objects.exists()


def test_a_call_reopened_before_the_worker_starts_fails_with_the_reason():
    data = closed_programme()
    export = ArchiveExport.objects.create(initiative=data["initiative"])
    Initiative.objects.filter(pk=data["initiative"].pk).update(status=Initiative.Status.PUBLISHED)
    export = archive_export_build(export=export)
    assert export.status == ArchiveExport.Status.FAILED
    assert "chiuso" in export.error
    assert not export.file
    with pytest.raises(ArchiveError) as refused:
        archive_export_download(export=export, by=None)
    assert refused.value.code == "failed"


def test_an_unexpected_error_leaves_a_failed_export_and_no_file(monkeypatch, tmp_path):
    data = closed_programme()
    export = ArchiveExport.objects.create(initiative=data["initiative"])

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("reports.archive.exports.initiative_archive_zip", broken)
    export = archive_export_build(export=export)
    assert export.status == ArchiveExport.Status.FAILED
    assert "errore imprevisto" in export.error
    assert not export.file
    assert not (tmp_path / "media" / "archives").exists()


def test_expired_archives_are_deleted_by_the_nightly_purge(
    settings, django_capture_on_commit_callbacks
):
    data = closed_programme()
    settings.ARCHIVE_EXPORT_KEEP_DAYS = 7
    export = archive_export_build(
        export=ArchiveExport.objects.create(initiative=data["initiative"])
    )
    path = Path(export.file.path)
    assert path.exists()
    assert archive_exports_purge(now=export.expires_at - timedelta(seconds=1)) == 0
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert archive_exports_purge(now=export.expires_at) == 1
    export.refresh_from_db()
    assert export.status == ArchiveExport.Status.EXPIRED
    assert not export.file
    assert not path.exists()
    with pytest.raises(ArchiveError) as refused:
        archive_export_download(export=export, by=None)
    assert refused.value.code == "expired"
    assert export.downloads == 0


def test_staff_can_delete_the_file_before_it_expires(client, django_capture_on_commit_callbacks):
    data = closed_programme()
    export = archive_export_build(
        export=ArchiveExport.objects.create(initiative=data["initiative"])
    )
    path = Path(export.file.path)
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    url = reverse("admin:vouchers_archiveexport_discard_detail", args=[export.pk])
    assert client.get(url).status_code == 200
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": "yes"}, follow=True)
    assert "eliminato" in response.content.decode()
    export.refresh_from_db()
    assert export.status == ArchiveExport.Status.EXPIRED
    assert not path.exists()
    download = client.get(
        reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]), follow=True
    )
    assert download.get("Content-Type") != "application/zip"
    assert "non è più disponibile" in download.content.decode()


def test_a_missing_file_is_a_message_and_the_download_is_not_counted(client):
    data = closed_programme()
    export = archive_export_build(
        export=ArchiveExport.objects.create(initiative=data["initiative"])
    )
    Path(export.file.path).unlink()
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    response = client.get(
        reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]), follow=True
    )
    assert "non si trova più" in response.content.decode()
    export.refresh_from_db()
    assert export.downloads == 0


def test_staff_without_the_permission_cannot_prepare_or_download(client):
    data = closed_programme()
    export = archive_export_build(
        export=ArchiveExport.objects.create(initiative=data["initiative"])
    )
    clerk = factories.user(is_staff=True)
    client.force_login(clerk)
    prepare = reverse(
        "admin:vouchers_initiative_archive_prepare_detail", args=[data["initiative"].pk]
    )
    response = client.post(prepare, {"confirm": "yes"})
    assert response.status_code in (302, 403)
    assert ArchiveExport.objects.count() == 1
    download = client.get(reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]))
    assert download.status_code in (302, 403, 404)
    assert download.get("Content-Type") != "application/zip"
    export.refresh_from_db()
    assert export.downloads == 0


def test_retention_term_defaults_to_ten_years_after_the_end_of_validity():
    initiative = factories.initiative(status=Initiative.Status.CLOSED)
    assert initiative.retention_years == 10
    end = initiative.valid_until
    assert initiative.retain_until == end.replace(year=end.year + 10)
    initiative.valid_until = end.replace(year=2028, month=2, day=29)
    initiative.valid_from = initiative.valid_until - timedelta(days=10)
    initiative.retention_years = 1
    assert str(initiative.retain_until) == "2029-02-28"


def test_the_purge_command_deletes_what_the_nightly_job_would(capsys):
    data = closed_programme()
    export = archive_export_build(
        export=ArchiveExport.objects.create(initiative=data["initiative"])
    )
    ArchiveExport.objects.filter(pk=export.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    call_command("purge_archive_exports")
    assert "Archivi eliminati: 1" in capsys.readouterr().out
    export.refresh_from_db()
    assert export.status == ArchiveExport.Status.EXPIRED


def test_the_page_of_an_archive_being_prepared_reloads_itself_until_it_is_ready(client):
    data = closed_programme()
    export = ArchiveExport.objects.create(initiative=data["initiative"])
    client.force_login(factories.user(is_staff=True, is_superuser=True))
    url = reverse("admin:vouchers_archiveexport_change", args=[export.pk])
    page = client.get(url).content.decode()
    assert 'http-equiv="refresh"' in page and "In coda" in page
    download = client.get(
        reverse("admin:vouchers_archiveexport_download_detail", args=[export.pk]), follow=True
    )
    assert "non è ancora pronto" in download.content.decode()
    archive_export_build(export=export)
    assert 'http-equiv="refresh"' not in client.get(url).content.decode()


def test_the_archive_names_its_files_in_italian_whatever_the_language_of_the_contents():
    data = closed_programme()
    english_words = {
        "call", "summary", "applications", "household", "members", "decisions", "ranking",
        "vouchers", "redemptions", "settlements", "ledger", "notifications", "manifest",
        "report", "reports", "payments", "statement", "letters", "outcome", "documents",
        "attachments", "receipts", "claims", "expenses", "shop", "MANIFEST",
    }  # fmt: skip
    for language in ("it", "en"):
        names = build(data["initiative"], language=language).namelist()
        # Uploaded files and the bank's message ids keep their own names.
        ours = [
            n.rsplit("/", 1)[0] if n.startswith(("documenti/", "allegati/", "distinte/")) else n
            for n in names
        ]
        assert not [n for n in ours if english_words & set(re.split(r"[/_.-]", n))], names
        assert {"bando.json", "domande.csv", "contabilita.csv", "INDICE.sha256"} <= set(names)
