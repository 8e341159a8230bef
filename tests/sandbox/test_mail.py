"""The sandbox mail catcher: SMTP in, an inbox page and JSON out, one message per Message-ID."""
import smtplib
from email.message import EmailMessage

import pytest
import requests

from sandbox.server import start_in_thread
from tests.integration.conftest import free_port


@pytest.fixture
def catcher(tmp_path):
    smtp_port = free_port()
    server, _thread, url = start_in_thread(state_dir=tmp_path, modules=["sandbox.mail"],
                                           options={"smtp": ("127.0.0.1", smtp_port)})
    yield url, smtp_port
    server.stop()


def _send(port, subject, message_id, html='<p>Hi <b>there</b></p><script>alert(1)</script>'):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"], message["Message-ID"] = (
        "Kassa <no-reply@kassa.local>", "shopper@example.com", subject, message_id)
    message.set_content("Hi there")
    message.add_alternative(html, subtype="html")
    message.add_attachment("a,b\n1,2\n", filename="orders.csv")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
        smtp.send_message(message)


def test_messages_are_kept_newest_first_and_deduplicated_by_message_id(catcher):
    url, port = catcher
    _send(port, "First", "<1@kassa.local>")
    _send(port, "Second", "<2@kassa.local>")
    _send(port, "First", "<1@kassa.local>")  # a resend after a crash
    messages = requests.get(f"{url}/mail/messages.json", timeout=5).json()
    assert [m["subject"] for m in messages] == ["Second", "First"]
    first = messages[1]
    assert set(first) >= {"id", "to", "subject", "text", "html", "date"}
    assert first["to"] == ["shopper@example.com"] and first["text"].strip() == "Hi there"
    assert "<b>there</b>" in first["html"] and first["deliveries"] == 2
    assert first["attachments"][0]["filename"] == "orders.csv"


def test_inbox_lists_and_shows_each_message_with_its_html_sandboxed(catcher):
    url, port = catcher
    _send(port, "<img src=x onerror=alert(1)> Receipt", "<3@kassa.local>")
    inbox = requests.get(f"{url}/mail/", timeout=5)
    assert inbox.ok and "&lt;img src=x" in inbox.text and "<img" not in inbox.text
    [message] = requests.get(f"{url}/mail/messages.json", timeout=5).json()
    page = requests.get(f"{url}/mail/{message['id']}/", timeout=5)
    assert page.ok and "<iframe sandbox" in page.text
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert "<pre>Hi there" in page.text
    assert requests.get(f"{url}/mail/999/", timeout=5).ok  # an unknown id is a page, not an error
