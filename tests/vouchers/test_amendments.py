"""A published call's rules are frozen: they change only by a recorded, reasoned amendment."""

import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from reports.archive.build import initiative_archive_zip
from tests import factories
from tests.vouchers.test_programme import applicant, open_call
from vouchers.models import Initiative, InitiativeAmendment, Voucher
from vouchers.services.amendments import AmendmentError, initiative_amend
from vouchers.services.applications import application_approve, application_submit
from vouchers.services.initiatives import initiative_close
from vouchers.services.issuing import initiative_issue
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db


def rules(initiative: Initiative) -> dict:
    fields = [*Initiative.RULE_FIELDS, "title", "status"]
    return Initiative.objects.filter(pk=initiative.pk).values(*fields).get()


def ranked_call() -> Initiative:
    initiative = open_call()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk"
    )
    application_approve(application=application, reason="Requisiti ok", by=None)
    initiative_close(initiative=initiative)
    return initiative_rank(initiative=initiative)


def refused(code: str, **kwargs) -> AmendmentError:
    with pytest.raises(AmendmentError) as error:
        initiative_amend(**kwargs)
    assert error.value.code == code, error.value.detail
    return error.value


# --- the freeze --------------------------------------------------------------------------


def test_a_published_call_refuses_a_changed_rule_in_its_validation():
    initiative = open_call()
    initiative.amount_base = Decimal("999.00")
    initiative.max_isee = Decimal("1.00")
    initiative.title = "Buoni spesa, testo corretto"  # descriptive: still free
    with pytest.raises(ValidationError) as error:
        initiative.full_clean()
    assert set(error.value.message_dict) == {"amount_base", "max_isee"}
    assert "Rettifica del bando" in error.value.message_dict["amount_base"][0]


def test_an_archived_call_refuses_any_change_and_the_status_moves_only_by_its_phases():
    initiative = factories.initiative(status=Initiative.Status.ARCHIVED)
    initiative.description = "Un altro testo"
    with pytest.raises(ValidationError) as error:
        initiative.full_clean()
    assert error.value.message_dict[NON_FIELD_ERRORS] == [
        "Il bando è archiviato: non si modifica più."
    ]

    published = open_call()
    published.status = Initiative.Status.DRAFT  # e.g. an old version put back from history
    with pytest.raises(ValidationError) as error:
        published.full_clean()
    assert "pulsanti delle sue fasi" in error.value.message_dict[NON_FIELD_ERRORS][0]


def test_a_draft_is_edited_freely():
    initiative = factories.initiative(status=Initiative.Status.DRAFT)
    initiative.amount_base = Decimal("999.00")
    initiative.full_clean()


# --- the amendment -----------------------------------------------------------------------


def test_an_amendment_changes_the_rules_and_records_who_when_what_and_why():
    initiative = open_call()
    officer = factories.user()
    rows = initiative_amend(
        initiative=initiative,
        actor=officer,
        changes={"amount_base": "150", "max_isee": Decimal("12000.00")},
        reason="Delibera di giunta n. 12: importo aumentato",
    )
    initiative.refresh_from_db()
    assert initiative.amount_base == Decimal("150.00")
    assert initiative.max_isee == Decimal("12000.00")
    assert initiative.status == Initiative.Status.PUBLISHED
    stored = list(InitiativeAmendment.objects.filter(initiative=initiative).order_by("field"))
    assert [(row.field, row.old_value, row.new_value) for row in stored] == [
        ("amount_base", "100.00", "150.00"),
        ("max_isee", None, "12000.00"),
    ]
    assert {row.pk for row in rows} == {row.pk for row in stored}
    for row in stored:
        assert row.amended_by == officer
        assert row.reason == "Delibera di giunta n. 12: importo aumentato"
        assert row.amended_at is not None

    record = initiative.history.order_by("-history_id").first()
    assert record.history_user == officer
    assert record.history_change_reason.startswith("Rettifica: Delibera di giunta n. 12")
    assert record.amount_base == Decimal("150.00")
    assert initiative.history.filter(amount_base=Decimal("100.00")).exists()


def test_an_amendment_of_the_municipalities_is_one_historical_record():
    initiative = open_call()
    town = initiative.municipalities.get()
    other = factories.municipality()
    records = initiative.history.count()
    initiative_amend(
        initiative=initiative,
        actor=None,
        changes={"municipalities": [town, other], "child_max_age": 14},
        reason="Adesione di un secondo comune all'ambito",
    )
    assert set(initiative.municipalities.all()) == {town, other}
    assert initiative.history.count() == records + 1
    row = InitiativeAmendment.objects.get(field="municipalities")
    assert row.old_value == [town.pk]
    assert row.new_value == sorted([town.pk, other.pk])


def test_an_amendment_needs_a_reason_and_changes_nothing_without_one():
    initiative = open_call()
    before = rules(initiative)
    for reason in ("", "   ", None):
        refused(
            "reason_required",
            initiative=initiative,
            actor=None,
            changes={"amount_base": "999.00"},
            reason=reason,
        )
    assert rules(initiative) == before
    assert not InitiativeAmendment.objects.exists()


def test_an_amendment_is_refused_on_an_archived_call_and_pointless_on_a_draft():
    archived = factories.initiative(status=Initiative.Status.ARCHIVED)
    before = rules(archived)
    error = refused(
        "archived",
        initiative=archived,
        actor=None,
        changes={"amount_base": "999.00"},
        reason="Correzione",
    )
    assert error.detail == "Il bando è archiviato: non si modifica più."
    assert rules(archived) == before
    draft = factories.initiative(status=Initiative.Status.DRAFT)
    refused("draft", initiative=draft, actor=None, changes={"amount_base": "9"}, reason="x")
    assert not InitiativeAmendment.objects.exists()


def test_an_amendment_refuses_what_is_not_a_rule_or_changes_nothing_or_does_not_hold():
    initiative = open_call()
    before = rules(initiative)
    refused("not_amendable", initiative=initiative, actor=None, changes={"fund": 1}, reason="x")
    refused("not_amendable", initiative=initiative, actor=None, changes={"title": "T"}, reason="x")
    refused(
        "nothing_changed",
        initiative=initiative,
        actor=None,
        changes={"amount_base": "100.00"},
        reason="x",
    )
    error = refused(
        "invalid_rules",
        initiative=initiative,
        actor=None,
        changes={"ranking_criteria": "isee_asc,lottery"},
        reason="x",
    )
    assert "lottery" in error.detail
    refused(
        "invalid_rules",
        initiative=initiative,
        actor=None,
        changes={"valid_until": initiative.valid_from - timedelta(days=1)},
        reason="x",
    )
    refused(
        "invalid_rules",
        initiative=initiative,
        actor=None,
        changes={"amount_base": "dieci"},
        reason="x",
    )
    refused(
        "municipalities_missing",
        initiative=initiative,
        actor=None,
        changes={"municipalities": []},
        reason="x",
    )
    assert rules(initiative) == before
    assert not InitiativeAmendment.objects.exists()


def test_after_the_ranking_only_validity_and_categories_can_be_amended():
    initiative = ranked_call()
    before = rules(initiative)
    error = refused(
        "ranking_approved",
        initiative=initiative,
        actor=None,
        changes={"amount_base": "150.00", "valid_until": initiative.valid_until},
        reason="Errore materiale",
    )
    assert "«Importo base»" in error.detail
    assert rules(initiative) == before

    later = initiative.valid_until + timedelta(days=30)
    initiative_amend(
        initiative=initiative, actor=None, changes={"valid_until": later}, reason="Proroga"
    )
    initiative.refresh_from_db()
    assert initiative.valid_until == later


def test_after_issuing_the_validity_is_extended_for_the_vouchers_too_never_shortened():
    initiative = ranked_call()
    initiative_issue(initiative=initiative)
    voucher = Voucher.objects.get(initiative=initiative)
    end = initiative.valid_until
    refused(
        "vouchers_issued_shorten",
        initiative=initiative,
        actor=None,
        changes={"valid_until": end - timedelta(days=1)},
        reason="Anticipo",
    )
    refused(
        "vouchers_issued_start",
        initiative=initiative,
        actor=None,
        changes={"valid_from": initiative.valid_from + timedelta(days=1)},
        reason="Posticipo",
    )
    voucher.refresh_from_db()
    assert voucher.valid_until == end

    initiative_amend(
        initiative=initiative,
        actor=None,
        changes={"valid_until": end + timedelta(days=90)},
        reason="Proroga della validità dei buoni",
    )
    voucher.refresh_from_db()
    assert voucher.valid_until == end + timedelta(days=90)


def test_the_calls_archive_keeps_its_amendments():
    initiative = ranked_call()
    officer = factories.user()
    later = initiative.valid_until + timedelta(days=30)
    initiative_amend(
        initiative=initiative, actor=officer, changes={"valid_until": later}, reason="Proroga"
    )
    out = io.BytesIO()
    initiative_archive_zip(initiative=initiative, out=out)
    call = json.loads(zipfile.ZipFile(out).read("bando.json"))
    [amendment] = call["amendments"]
    assert amendment["rule"] == "valid_until"
    assert amendment["new_value"] == later.isoformat()
    assert amendment["reason"] == "Proroga"
    assert amendment["amended_by"] == officer.get_username()
