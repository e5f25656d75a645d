"""What applicants are told, and when: outcomes, vouchers available, funding from the list."""

import pytest
from django.urls import reverse

from tests.vouchers.test_programme import run_to_ranking
from vouchers.models import Application, Beneficiary, Notification
from vouchers.services.applications import application_withdraw
from vouchers.services.issuing import initiative_issue
from vouchers.services.notifications import initiative_notify_outcomes

pytestmark = pytest.mark.django_db


def with_emails(initiative) -> None:
    for beneficiary in Beneficiary.objects.filter(applications__initiative=initiative):
        beneficiary.email = f"{beneficiary.fiscal_code.lower()}@example.org"
        beneficiary.save(update_fields=["email"])


def bodies(mailoutbox) -> dict[str, str]:
    return {message.to[0]: message.body for message in mailoutbox}


def test_an_outcome_sent_before_issuing_says_the_vouchers_will_come_and_a_notice_follows(
    mailoutbox, django_capture_on_commit_callbacks
):
    initiative, _applications = run_to_ranking(4)  # three funded, one waiting
    with_emails(initiative)
    with django_capture_on_commit_callbacks(execute=True):
        counts = initiative_notify_outcomes(initiative=initiative)
    assert counts == {"email": 4, "sms": 0, "letter": 0}
    funded = [body for body in bodies(mailoutbox).values() if "ammessa e finanziata per" in body]
    assert len(funded) == 3
    for body in funded:
        assert "I buoni sono nell'app" not in body
        assert "I buoni non sono ancora stati emessi: riceverà un nuovo avviso" in body

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        initiative_issue(initiative=initiative)
    assert len(mailoutbox) == 3  # the waiting applicant has no vouchers to be told of
    for message in mailoutbox:
        assert "i buoni sono disponibili" in message.subject
        assert "sono stati emessi: li trova nell'app BuonoComune" in message.body
    assert Notification.objects.filter(outcome="issued").count() == 3

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = initiative_notify_outcomes(initiative=initiative)
    assert again == {"email": 0, "sms": 0, "letter": 0}
    assert not mailoutbox


def test_an_outcome_sent_after_issuing_says_the_vouchers_are_in_the_app_once(
    mailoutbox, django_capture_on_commit_callbacks
):
    initiative, _applications = run_to_ranking(1)
    with_emails(initiative)
    initiative_issue(initiative=initiative)
    with django_capture_on_commit_callbacks(execute=True):
        initiative_notify_outcomes(initiative=initiative)
    assert len(mailoutbox) == 1
    assert "I buoni sono nell'app BuonoComune" in mailoutbox[0].body
    assert Application.objects.get().notifications.get().outcome == "funded"


def test_a_letter_telling_that_the_vouchers_are_available_carries_an_access_code():
    from vouchers.services.outcome_letters import outcome_letters_print

    initiative, _applications = run_to_ranking(1)
    initiative_notify_outcomes(initiative=initiative)
    initiative_issue(initiative=initiative)
    notice = Notification.objects.select_related(
        "application__applicant", "application__municipality", "application__initiative"
    ).get(outcome="issued")
    assert notice.channel == Notification.Channel.LETTER
    from tests.vouchers.test_letters import pdf_text

    text = " ".join(pdf_text(outcome_letters_print(notifications=[notice])).split())
    assert "Codice di accesso:" in text
    assert "ricorso" not in text  # a notice, not a decision


# --- scorrimento ---------------------------------------------------------------------------


def test_budget_added_to_a_ranked_call_funds_the_waiting_list_with_four_eyes(
    mailoutbox, django_capture_on_commit_callbacks
):
    from core.selectors import unbalanced_journals
    from tests import factories
    from vouchers.services.budget import initiative_assign_budget
    from vouchers.services.waiting_list import (
        WaitingListError,
        waiting_list_funding_approve,
        waiting_list_funding_propose,
    )

    initiative, _applications = run_to_ranking(5)  # budget 300: three funded, two waiting
    with_emails(initiative)
    with django_capture_on_commit_callbacks(execute=True):
        initiative_notify_outcomes(initiative=initiative)
    manager, other = factories.user(), factories.user()
    with pytest.raises(WaitingListError) as error:
        waiting_list_funding_propose(initiative=initiative, proposed_by=manager)
    assert error.value.code == "nothing_to_fund"

    initiative_assign_budget(initiative=initiative, amount="150.00")
    funding = waiting_list_funding_propose(initiative=initiative, proposed_by=manager)
    fourth = Application.objects.get(rank=4)
    assert list(funding.applications.all()) == [fourth]  # the fifth does not fit in €50
    assert funding.total == 100
    with pytest.raises(WaitingListError) as error:
        waiting_list_funding_approve(funding=funding, approved_by=manager)
    assert error.value.code == "four_eyes"
    fourth.refresh_from_db()
    assert fourth.outcome == Application.Outcome.WAITING

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        funded = waiting_list_funding_approve(funding=funding, approved_by=other)
    assert [a.pk for a in funded] == [fourth.pk]
    assert funded[0].outcome == Application.Outcome.FUNDED
    assert [m.to[0] for m in mailoutbox] == [fourth.applicant.email]
    assert "ammessa e finanziata per" in mailoutbox[0].body
    assert "non sono ancora stati emessi" in mailoutbox[0].body
    # Approving again changes nothing.
    assert waiting_list_funding_approve(funding=funding, approved_by=other) == funded
    assert Application.objects.get(rank=5).outcome == Application.Outcome.WAITING
    assert not unbalanced_journals().exists()


def test_a_revoked_vouchers_residual_funds_the_next_in_the_ranking_once_approved(
    mailoutbox, django_capture_on_commit_callbacks
):
    from core.selectors import unbalanced_journals
    from tests import factories
    from vouchers.models import Voucher
    from vouchers.selectors.budget import initiative_budget_available
    from vouchers.services.expiry import voucher_revoke
    from vouchers.services.waiting_list import (
        waiting_list_funding_approve,
        waiting_list_funding_propose,
    )

    initiative, _applications = run_to_ranking(4)  # three funded, one waiting
    with_emails(initiative)
    initiative_issue(initiative=initiative)
    first = Application.objects.get(rank=1)
    voucher = first.vouchers.get()
    voucher_revoke(voucher=voucher, reason="Dichiarazione non veritiera")
    assert initiative_budget_available(initiative=initiative) == 100
    waiting = Application.objects.get(rank=4)
    waiting.refresh_from_db()
    assert waiting.outcome == Application.Outcome.WAITING  # nothing moves without approval

    funding = waiting_list_funding_propose(initiative=initiative, proposed_by=factories.user())
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        waiting_list_funding_approve(funding=funding, approved_by=factories.user())
    waiting.refresh_from_db()
    assert waiting.outcome == Application.Outcome.ISSUED
    assert waiting.vouchers.get().status == Voucher.Status.ACTIVE
    assert waiting.vouchers.get().balance == 100
    assert initiative_budget_available(initiative=initiative) == 0
    assert [m.to[0] for m in mailoutbox] == [waiting.applicant.email]
    assert "I buoni sono nell'app BuonoComune" in mailoutbox[0].body
    assert not unbalanced_journals().exists()


def test_a_proposal_overtaken_by_events_is_refused_and_changes_nothing():
    from tests import factories
    from vouchers.services.budget import initiative_assign_budget
    from vouchers.services.waiting_list import (
        WaitingListError,
        waiting_list_funding_approve,
        waiting_list_funding_propose,
    )

    initiative, _applications = run_to_ranking(4)
    initiative_assign_budget(initiative=initiative, amount="100.00")
    funding = waiting_list_funding_propose(initiative=initiative, proposed_by=factories.user())
    fourth = Application.objects.get(rank=4)
    application_withdraw(application=fourth, reason="Trasferita", by=None)
    with pytest.raises(WaitingListError) as error:
        waiting_list_funding_approve(funding=funding, approved_by=factories.user())
    assert error.value.code == "changed"
    funding.refresh_from_db()
    assert funding.status == "proposed"


# --- what a click on «Comunica gli esiti» says it did --------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_click_with_no_new_outcome_says_it_sent_the_messages_left_waiting(
    client, mailoutbox, monkeypatch
):
    from kombu.exceptions import OperationalError

    from core.models import Role
    from tests.vouchers.test_admin_programme import logged_in, messages_of, staff, step
    from vouchers.tasks import notifications_send

    initiative, _applications = run_to_ranking(3)  # three funded
    with_emails(initiative)
    logged_in(client, staff(Role.PROGRAMME_MANAGER, initiative.municipalities.get()))

    def queue_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setattr(notifications_send, "delay", queue_down)
        said = messages_of(step(client, "notify_detail", initiative))[-1]
    assert "3 comunicazioni preparate: 3 e-mail, 0 SMS, 0 lettere da stampare." in said
    assert "La coda dei compiti non risponde: 3 comunicazioni restano «Da inviare»" in said
    assert set(Notification.objects.values_list("status", flat=True)) == {"pending"}
    assert mailoutbox == []

    said = messages_of(step(client, "notify_detail", initiative))[-1]
    assert said == f"{initiative}: nessun nuovo esito; inviate 3 comunicazioni in attesa."
    assert len(mailoutbox) == 3
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}

    left = Notification.objects.order_by("pk").first()
    Notification.objects.filter(pk=left.pk).update(status=Notification.Status.PENDING)
    said = messages_of(step(client, "notify_detail", initiative))[-1]
    assert said == f"{initiative}: nessun nuovo esito; inviata 1 comunicazione in attesa."

    Notification.objects.filter(pk=left.pk).update(status=Notification.Status.PENDING)
    url = reverse("admin:vouchers_initiative_notify_detail", args=[initiative.pk])
    english = client.post(url, {"confirm": "yes"}, HTTP_ACCEPT_LANGUAGE="en")
    assert messages_of(english)[-1] == f"{initiative}: no new outcomes; sent 1 waiting message."

    said = messages_of(step(client, "notify_detail", initiative))[-1]
    assert said == f"{initiative}: nessun nuovo esito da comunicare."


def test_the_click_tells_apart_waiting_messages_sent_logged_failed_and_queued():
    from vouchers.admin.outcomes import waiting_outcome
    from vouchers.services.notifications import OutcomesTold

    told = OutcomesTold(
        prepared={"email": 0, "sms": 0, "letter": 0},
        waiting=7,
        waiting_sent=1,
        waiting_unsent=2,
        waiting_logged=1,
        queued=True,
        still_pending=3,
    )
    assert waiting_outcome(told) == (
        "inviata 1 comunicazione in attesa; 2 comunicazioni in attesa non inviate (vedi "
        "l'elenco delle comunicazioni); 1 SMS in attesa scritto solo nel registro (ambiente "
        "di prova); 3 comunicazioni in attesa affidate alla coda di invio"
    )
