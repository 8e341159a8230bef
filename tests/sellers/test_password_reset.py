"""Forgot password: Django's password-reset views in the log-in shell; the email goes to the configured
backend (console in development, locmem in tests)."""
import re

import pytest
from django.core import mail

from tests import factories

pytestmark = pytest.mark.django_db


def test_login_page_links_to_forgot_password(client):
    body = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in body and "Forgot your password?" in body


def test_reset_by_email_then_log_in_with_the_new_password(client):
    user = factories.UserFactory(username="asha", email="asha@example.com")
    user.save()
    page = client.get("/accounts/password/reset/")
    assert page.status_code == 200 and 'class="auth-card"' in page.content.decode()
    done = client.post("/accounts/password/reset/", {"email": "asha@example.com"}, follow=True)
    assert "Check your email" in done.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["asha@example.com"]
    link = re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body)[1]
    assert "asha" in mail.outbox[0].body  # the username, in case they forgot that too

    form = client.get(link, follow=True)  # Django swaps the token into the session and redirects
    set_url = form.redirect_chain[-1][0]
    assert "Choose a new password" in form.content.decode()
    weak = client.post(set_url, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    complete = client.post(set_url, {"new_password1": "a-much-better-passphrase", "new_password2":
                                     "a-much-better-passphrase"}, follow=True)
    assert "Your password is set" in complete.content.decode()
    logged_in = client.post("/accounts/login/", {"username": "asha", "password": "a-much-better-passphrase"})
    assert logged_in.status_code == 302
    client.post("/accounts/logout/")

    used = client.get(link, follow=True).content.decode()  # a link works once
    assert "no longer valid" in used


def test_unknown_email_looks_the_same_and_sends_nothing(client):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True)
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert mail.outbox == []
