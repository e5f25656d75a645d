from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from stdnum.it import codicefiscale

from core.selectors import unbalanced_journals
from tests import factories
from vouchers.errors import ProgrammeError
from vouchers.models import Application, Initiative, Voucher
from vouchers.selectors.holders import voucher_ledger_balance
from vouchers.services.applications import (
    ApplicantData,
    MemberData,
    application_answer,
    application_approve,
    application_eligibility_errors,
    application_reject,
    application_request_info,
    application_submit,
    application_withdraw,
)
from vouchers.services.initiatives import initiative_close, initiative_publish
from vouchers.services.issuing import initiative_issue, issuance_run_start
from vouchers.services.ranking import initiative_rank

pytestmark = pytest.mark.django_db


def fiscal_code(n: int, *, birth="80A01", sex="M") -> tuple[str, date, str]:
    """A valid fiscal code born 1980-01-01 (or 41+ day for women) with a distinct surname."""
    letters = f"{chr(66 + n % 20)}{chr(66 + (n // 20) % 20)}{chr(66 + (n // 400) % 20)}"
    day = int(birth[3:5]) + (40 if sex == "F" else 0)
    body = f"{letters}MRA{birth[:3]}{day:02d}H501"
    code = body + codicefiscale.calc_check_digit(body)
    return code, codicefiscale.get_birth_date(code), sex


def open_call(**overrides) -> Initiative:
    now = timezone.now()
    municipality = factories.municipality()
    initiative = factories.initiative(
        municipalities=[municipality], status=Initiative.Status.DRAFT, budget="300.00"
    )
    initiative.applications_open_at = now - timedelta(days=1)
    initiative.applications_close_at = now + timedelta(days=10)
    initiative.amount_rule = Initiative.AmountRule.FIXED
    initiative.amount_base = Decimal("100.00")
    for key, value in overrides.items():
        setattr(initiative, key, value)
    initiative.save()
    return initiative_publish(initiative=initiative)


def applicant(initiative: Initiative, n: int, **extra) -> ApplicantData:
    code, birth, sex = fiscal_code(n)
    return ApplicantData(
        fiscal_code=code,
        first_name="Mario",
        last_name=f"Rossi {n}",
        birth_date=birth,
        sex=sex,
        municipality=initiative.municipalities.first(),
        isee=extra.pop("isee", "5000.00"),
        **extra,
    )


def test_publish_refuses_a_call_without_window_or_budget():
    initiative = factories.initiative(status=Initiative.Status.DRAFT, budget=None)
    with pytest.raises(ProgrammeError) as error:
        initiative_publish(initiative=initiative)
    assert error.value.code == "window_missing"
    initiative.applications_open_at = timezone.now()
    initiative.applications_close_at = timezone.now() + timedelta(days=1)
    initiative.save()
    with pytest.raises(ProgrammeError) as error:
        initiative_publish(initiative=initiative)
    assert error.value.code == "budget_missing"


def test_desk_application_gets_sequential_protocol_numbers_per_municipality_and_year():
    initiative = open_call()
    desk = factories.user()
    first = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk", entered_by=desk
    )
    second = application_submit(
        initiative=initiative, data=applicant(initiative, 2), channel="desk", entered_by=desk
    )
    year = timezone.localdate().year
    assert first.protocol_number == f"{year}/000001"
    assert second.protocol_number == f"{year}/000002"
    assert first.entered_by == desk and first.channel == "desk"


def test_one_application_per_fiscal_code_per_call():
    initiative = open_call()
    application_submit(initiative=initiative, data=applicant(initiative, 1), channel="desk")
    with pytest.raises(ProgrammeError) as error:
        application_submit(initiative=initiative, data=applicant(initiative, 1), channel="online")
    assert error.value.code == "already_applied"
    assert Application.objects.count() == 1


def test_fiscal_code_must_match_birth_date_and_sex():
    initiative = open_call()
    data = applicant(initiative, 1)
    data.birth_date = data.birth_date + timedelta(days=1)
    with pytest.raises(ProgrammeError) as error:
        application_submit(initiative=initiative, data=data, channel="desk")
    assert error.value.code == "fiscal_code_mismatch"
    data = applicant(initiative, 1)
    data.sex = "F"
    with pytest.raises(ProgrammeError) as error:
        application_submit(initiative=initiative, data=data, channel="desk")
    assert error.value.code == "fiscal_code_mismatch"


def test_eligibility_rules_refuse_with_the_reason():
    initiative = open_call(max_isee=Decimal("9000.00"), declarations="Dichiaro il vero")
    with pytest.raises(ProgrammeError) as error:
        application_submit(
            initiative=initiative,
            data=applicant(initiative, 1, declarations_accepted=["Dichiaro il vero"], isee="9500"),
            channel="desk",
        )
    assert error.value.code == "isee_too_high"
    with pytest.raises(ProgrammeError) as error:
        application_submit(initiative=initiative, data=applicant(initiative, 2), channel="desk")
    assert error.value.code == "declarations_missing"
    assert Application.objects.count() == 0


def test_an_ineligible_applicant_is_registered_and_rejected_with_every_reason():
    from vouchers.models import Decision

    initiative = open_call(max_isee=Decimal("9000.00"), declarations="Dichiaro il vero")
    desk = factories.user()
    application = application_submit(
        initiative=initiative,
        data=applicant(initiative, 1, isee="9500"),
        channel="desk",
        entered_by=desk,
        register_ineligible=True,
    )
    assert application.protocol_number.endswith("000001")
    assert application.status == Application.Status.REJECTED
    decision = application.decisions.get()
    assert (decision.action, decision.from_status, decision.to_status) == (
        Decision.Action.REJECT,
        Application.Status.SUBMITTED,
        Application.Status.REJECTED,
    )
    assert decision.decided_by is None
    assert "supera il massimo del bando" in decision.reason
    assert "Mancano dichiarazioni obbligatorie: «Dichiaro il vero»." in decision.reason
    # An eligible applicant is registered as usual, whatever the desk chose.
    other = application_submit(
        initiative=initiative,
        data=applicant(initiative, 2, declarations_accepted=["Dichiaro il vero"]),
        channel="desk",
        register_ineligible=True,
    )
    assert other.status == Application.Status.SUBMITTED
    assert not other.decisions.exists()


def test_shared_household_is_flagged_on_both_applications():
    initiative = open_call()
    member_code, member_birth, _sex = fiscal_code(50)
    member = MemberData(member_code, "Anna", "Bianchi", member_birth)
    first = application_submit(
        initiative=initiative, data=applicant(initiative, 1, members=[member]), channel="desk"
    )
    second = application_submit(
        initiative=initiative, data=applicant(initiative, 2, members=[member]), channel="desk"
    )
    first.refresh_from_db()
    assert first.household_flag and second.household_flag


def test_validator_never_decides_an_application_he_entered():
    initiative = open_call()
    desk = factories.user()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="desk", entered_by=desk
    )
    with pytest.raises(ProgrammeError) as error:
        application_approve(application=application, reason="ok", by=desk)
    assert error.value.code == "four_eyes"
    application.refresh_from_db()
    assert application.status == Application.Status.SUBMITTED
    assert application.decisions.count() == 0


def test_request_info_and_answer_reopen_the_application_keeping_every_decision():
    initiative = open_call()
    validator = factories.user()
    application = application_submit(
        initiative=initiative, data=applicant(initiative, 1), channel="online"
    )
    application_request_info(
        application=application, reason="Manca l'ISEE aggiornato", by=validator
    )
    application_answer(application=application, note="ISEE allegato")
    application_approve(application=application, reason="Requisiti ok", by=validator)
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    assert [d.action for d in application.decisions.all()] == [
        "request_info",
        "answer",
        "approve",
    ]
    with pytest.raises(ProgrammeError) as error:
        application_reject(application=application, reason="", by=validator)
    assert error.value.code == "reason_required"


def run_to_ranking(n_applicants: int, **overrides):
    initiative = open_call(**overrides)
    validator = factories.user()
    applications = []
    for n in range(1, n_applicants + 1):
        application = application_submit(
            initiative=initiative,
            data=applicant(initiative, n, isee=f"{10000 - n * 1000}.00"),
            channel="desk",
        )
        application_approve(application=application, reason="ok", by=validator)
        applications.append(application)
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    return initiative, applications


def test_ranking_funds_the_lowest_isee_first_and_puts_the_rest_on_the_waiting_list():
    initiative, applications = run_to_ranking(4)  # budget 300, €100 each
    outcomes = {
        a.applicant.last_name: (a.rank, a.outcome)
        for a in Application.objects.select_related("applicant")
    }
    assert outcomes["Rossi 4"] == (1, Application.Outcome.FUNDED)
    assert outcomes["Rossi 3"] == (2, Application.Outcome.FUNDED)
    assert outcomes["Rossi 2"] == (3, Application.Outcome.FUNDED)
    assert outcomes["Rossi 1"] == (4, Application.Outcome.WAITING)


def test_ranking_refuses_while_applications_are_undecided():
    initiative = open_call()
    application_submit(initiative=initiative, data=applicant(initiative, 1), channel="desk")
    initiative_close(initiative=initiative)
    with pytest.raises(ProgrammeError) as error:
        initiative_rank(initiative=initiative)
    assert error.value.code == "applications_pending"


def test_issuing_twice_never_gives_two_vouchers_for_one_application():
    initiative, _applications = run_to_ranking(3)
    assert initiative_issue(initiative=initiative) == 3
    assert initiative_issue(initiative=initiative) == 0
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.ISSUED
    assert Voucher.objects.filter(initiative=initiative).count() == 3
    for voucher in Voucher.objects.filter(initiative=initiative):
        assert voucher_ledger_balance(voucher_id=voucher.pk) == voucher.balance == Decimal("100")
    assert not unbalanced_journals().exists()


def test_withdrawal_after_issue_funds_the_next_on_the_waiting_list():
    initiative, _applications = run_to_ranking(4)
    initiative_issue(initiative=initiative)
    first = Application.objects.get(rank=1)
    application_withdraw(application=first, reason="Trasferito", by=None)
    waiting = Application.objects.get(rank=4)
    assert waiting.outcome == Application.Outcome.ISSUED
    assert waiting.vouchers.get().balance == Decimal("100.00")
    assert first.vouchers.get().status == Voucher.Status.REVOKED
    assert not unbalanced_journals().exists()


def test_fixed_buoni_amount_is_a_whole_number_of_buoni():
    initiative, _applications = run_to_ranking(
        1,
        benefit_kind=Initiative.BenefitKind.FIXED_BUONI,
        partial_allowed=False,
        face_value=Decimal("25.00"),
        amount_rule=Initiative.AmountRule.PER_MEMBER,
        amount_per_member=Decimal("60.00"),
    )
    application = Application.objects.get()
    assert application.amount == Decimal("50.00")
    initiative_issue(initiative=initiative)
    assert sorted(v.face_value for v in application.vouchers.all()) == [
        Decimal("25.00"),
        Decimal("25.00"),
    ]


def test_issuance_run_reports_progress_and_a_second_run_issues_nothing(
    django_capture_on_commit_callbacks,
):
    initiative, _applications = run_to_ranking(3)
    with django_capture_on_commit_callbacks(execute=True):
        run = issuance_run_start(initiative=initiative)
    run.refresh_from_db()
    assert (run.status, run.total, run.done, run.vouchers_issued) == ("done", 3, 3, 3)
    with django_capture_on_commit_callbacks(execute=True):
        again = issuance_run_start(initiative=initiative)
    again.refresh_from_db()
    assert again.vouchers_issued == 0
    assert Voucher.objects.filter(initiative=initiative).count() == 3


def test_outcomes_go_by_email_sms_or_letter_once_each(
    mailoutbox, django_capture_on_commit_callbacks
):
    from vouchers.models import Notification
    from vouchers.outcome_letters import outcome_letters_pdf
    from vouchers.services.notifications import initiative_notify_outcomes
    from vouchers.sms import LocmemSmsBackend

    LocmemSmsBackend.outbox.clear()
    initiative = open_call()
    validator = factories.user()
    contacts = [{"email": "anna@example.org"}, {"phone": "+39 333 1234567"}, {}, {}, {}]
    for n, contact in enumerate(contacts, start=1):
        application = application_submit(
            initiative=initiative,
            data=applicant(initiative, n, isee=f"{1000 * n}.00", **contact),
            channel="desk",
        )
        if n == 5:
            application_reject(application=application, reason="ISEE scaduto", by=validator)
        else:
            application_approve(application=application, reason="ok", by=validator)
    initiative_close(initiative=initiative)
    initiative_rank(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        counts = initiative_notify_outcomes(initiative=initiative)
    assert counts == {"email": 1, "sms": 1, "letter": 3}
    assert len(mailoutbox) == 1 and "ammessa e finanziata" in mailoutbox[0].body
    assert len(LocmemSmsBackend.outbox) == 1
    assert LocmemSmsBackend.outbox[0]["to"] == "+39 333 1234567"
    letters = list(
        Notification.objects.filter(channel="letter").select_related(
            "application__applicant", "application__municipality"
        )
    )
    assert {n.outcome for n in letters} == {"funded", "waiting", "rejected"}
    rejected = next(n for n in letters if n.outcome == "rejected")
    assert "ISEE scaduto" in rejected.body
    assert outcome_letters_pdf(letters).startswith(b"%PDF")
    with django_capture_on_commit_callbacks(execute=True):
        again = initiative_notify_outcomes(initiative=initiative)
    assert again == {"email": 0, "sms": 0, "letter": 0}
    assert len(mailoutbox) == 1


def test_a_funded_letter_carries_an_access_code_that_logs_in(django_capture_on_commit_callbacks):
    import re

    import pypdfium2

    from vouchers.models import Notification
    from vouchers.services.access import access_code_login
    from vouchers.services.notifications import initiative_notify_outcomes
    from vouchers.services.outcome_letters import outcome_letters_print

    initiative, _applications = run_to_ranking(1)
    with django_capture_on_commit_callbacks(execute=True):
        initiative_notify_outcomes(initiative=initiative)
    letter = Notification.objects.select_related(
        "application__applicant", "application__municipality"
    ).get(channel="letter")
    pdf = outcome_letters_print(notifications=[letter])
    text = pypdfium2.PdfDocument(pdf)[0].get_textpage().get_text_range()
    code = re.search(r"Codice di accesso: (\S+)", text).group(1)
    holder = access_code_login(
        fiscal_code=letter.application.applicant.fiscal_code, access_code=code
    )
    assert holder == letter.application.applicant
    letter.refresh_from_db()
    assert letter.status == Notification.Status.PRINTED


def test_an_expired_residual_funds_the_waiting_list_while_the_call_runs():
    from vouchers.selectors.budget import initiative_budget_available
    from vouchers.services.expiry import vouchers_expire_due

    initiative, _applications = run_to_ranking(4)  # budget 300: three funded, one waiting
    initiative_issue(initiative=initiative)
    first = Application.objects.get(rank=1)
    today = timezone.localdate()
    # This holder's voucher had a shorter validity than the call's.
    first.vouchers.update(valid_until=today - timedelta(days=1))
    initiative.valid_until = today + timedelta(days=30)
    initiative.save(update_fields=["valid_until"])

    assert vouchers_expire_due(today=today) == 1
    assert first.vouchers.get().status == Voucher.Status.EXPIRED
    waiting = Application.objects.get(rank=4)
    assert waiting.outcome == Application.Outcome.ISSUED
    assert waiting.vouchers.get().balance == Decimal("100.00")
    assert initiative_budget_available(initiative=initiative) == Decimal("0.00")
    assert not unbalanced_journals().exists()


def test_an_expired_residual_stays_in_the_budget_once_the_call_has_ended():
    from vouchers.selectors.budget import initiative_budget_available
    from vouchers.services.expiry import vouchers_expire_due

    initiative, _applications = run_to_ranking(4)
    initiative_issue(initiative=initiative)
    after = initiative.valid_until + timedelta(days=1)
    assert vouchers_expire_due(today=after) == 3
    assert Application.objects.get(rank=4).outcome == Application.Outcome.WAITING
    assert initiative_budget_available(initiative=initiative) == Decimal("300.00")


def test_refusals_read_with_one_full_stop_and_italian_numbers():
    declarations = (
        "Dichiaro di risiedere nel Comune (art. 46 DPR 445/2000).\nDichiaro che i dati sono veri."
    )
    initiative = open_call(max_isee=Decimal("15000.00"), declarations=declarations)
    errors = application_eligibility_errors(
        initiative=initiative,
        data=applicant(initiative, 1, isee="20000.00"),
        on=timezone.localdate(),
    )

    with translation.override("it"):
        details = {error.code: error.detail for error in errors}
    assert details["declarations_missing"] == (
        "Mancano dichiarazioni obbligatorie: «Dichiaro di risiedere nel Comune (art. 46 DPR "
        "445/2000)»; «Dichiaro che i dati sono veri»."
    )
    assert details["isee_too_high"] == (
        "L'ISEE (20.000,00) supera il massimo del bando (15.000,00)."
    )
    with translation.override("en"):
        assert "20,000.00" in next(e for e in errors if e.code == "isee_too_high").detail
