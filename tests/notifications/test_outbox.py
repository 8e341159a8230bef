"""The outbox: queued in the caller's transaction, once per key, sent after commit with retries."""
import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications.models import OutboxEmail
from notifications.services import MAX_ATTEMPTS, SENDING_LEASE, outbox_resend, outbox_send, outbox_sweep, queue_email

pytestmark = pytest.mark.django_db


def _queue(key="receipt:payment:1", to=("shopper@example.com",), **kwargs):
    return queue_email(kind="receipt", key=key, to=list(to), subject="Hello", template="notice",
                       context={"heading": "Hello", "lines": ["Body"]}, **kwargs)


def test_queued_row_is_sent_after_commit_with_a_message_id_from_its_key(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        email = _queue()
        assert email.status == "queued" and not mail.outbox  # nothing leaves before commit
    email.refresh_from_db()
    assert email.status == "sent" and email.sent_at and email.attempts == 1
    [message] = mail.outbox
    assert message.to == ["shopper@example.com"] and message.subject == "Hello"
    assert message.extra_headers["Message-ID"] == email.message_id
    assert message.alternatives[0][1] == "text/html"


def test_same_key_twice_queues_one_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _queue() is not None
        assert _queue() is None
    assert OutboxEmail.objects.count() == 1 and len(mail.outbox) == 1


def test_no_recipient_queues_nothing():
    assert _queue(to=("", " ")) is None
    assert not OutboxEmail.objects.exists()


def test_a_rolled_back_change_leaves_no_email():
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        _queue()
        raise RuntimeError("the change failed")
    assert not OutboxEmail.objects.exists()


class _Refusing:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({"secret@example.com": (550, b"no such user secret@example.com")})


def test_failures_back_off_then_fail_for_good_without_the_address_in_the_error(settings, caplog):
    settings.EMAIL_BACKEND = f"{__name__}._Refusing"
    email = _queue()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
        status = outbox_send(email_id=email.pk)
        email.refresh_from_db()
        assert email.attempts == attempt
        assert status == ("failed" if attempt == MAX_ATTEMPTS else "queued")
    assert email.status == "failed" and email.last_error == "SMTPRecipientsRefused"
    assert "secret@example.com" not in caplog.text and "Body" not in caplog.text
    assert outbox_send(email_id=email.pk) == ""  # failed rows wait for staff


def test_retry_waits_for_its_backoff(settings):
    settings.EMAIL_BACKEND = f"{__name__}._Refusing"
    email = _queue()
    OutboxEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert outbox_sweep() == 1
    email.refresh_from_db()
    assert email.status == "queued" and email.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert outbox_sweep() == 0


def test_sweep_sends_a_row_whose_task_was_lost_but_not_a_fresh_one():
    email = _queue()  # no on_commit: the task was lost
    assert outbox_sweep() == 0  # a fresh row is the after-commit task's
    assert outbox_sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    email.refresh_from_db()
    assert email.status == "sent" and len(mail.outbox) == 1


def test_a_send_claimed_by_a_dead_worker_is_sent_again_after_the_lease_with_the_same_message_id():
    email = _queue()
    OutboxEmail.objects.filter(pk=email.pk).update(status="sending", claimed_at=timezone.now())
    assert outbox_send(email_id=email.pk) == ""  # another worker holds it
    assert outbox_sweep(now=timezone.now() + SENDING_LEASE + timedelta(seconds=1)) == 1
    email.refresh_from_db()
    assert email.status == "sent"
    assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id


def test_resend_puts_failed_rows_back(django_capture_on_commit_callbacks):
    email = _queue()
    OutboxEmail.objects.filter(pk=email.pk).update(status="failed", attempts=MAX_ATTEMPTS, last_error="x")
    with django_capture_on_commit_callbacks(execute=True):
        assert outbox_resend(email_ids=[email.pk]) == 1
    email.refresh_from_db()
    assert email.status == "sent" and email.attempts == 1 and len(mail.outbox) == 1


@pytest.fixture
def support_client(client):
    from django.contrib.auth import get_user_model

    from payments.staff.groups import staff_groups_sync
    from tests.two_factor import verify_session

    staff_groups_sync()
    user = get_user_model().objects.create_user("support", "support@example.com", "pw-pw-pw-pw", is_staff=True)
    user.groups.add(*__import__("django.contrib.auth.models").contrib.auth.models.Group.objects.filter(name="Support"))
    client.force_login(user)
    verify_session(client, user)
    return client


def test_support_staff_list_filter_and_resend_failed_emails(support_client, django_capture_on_commit_callbacks):
    admin_client = support_client
    email = _queue()
    OutboxEmail.objects.filter(pk=email.pk).update(status="failed", last_error="SMTPServerDisconnected")
    page = admin_client.get("/admin/notifications/outboxemail/?status__exact=failed&kind__exact=receipt")
    assert page.status_code == 200 and b"SMTPServerDisconnected" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/notifications/outboxemail/", {"action": "resend", "_selected_action": [email.pk]})
    email.refresh_from_db()
    assert email.status == "sent" and len(mail.outbox) == 1


def test_email_url_is_parsed_by_scheme():
    import environ

    tls = environ.Env.email_url_config("smtp+tls://user:pw@mail.example:587")
    assert tls["EMAIL_BACKEND"].endswith("smtp.EmailBackend") and tls["EMAIL_USE_TLS"] and tls["EMAIL_PORT"] == 587
    assert environ.Env.email_url_config("consolemail://")["EMAIL_BACKEND"].endswith("console.EmailBackend")
