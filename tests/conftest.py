"""Shared fixtures. Tests run on SQLite by default; with DATABASE_URL / REDIS_URL
set they run on the real servers, and tests that need those servers skip otherwise."""
import os
import shutil
import socket
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client as DjangoClient

from tests import factories

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium as root on a closed network (Playwright cannot download its own browser here).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# Every browser test saves its screenshots here, for a person to look at (var/ is not committed).
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "artifacts" / "screenshots"


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://… (make test does on CI)")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    skip_browser = pytest.mark.skip(reason=f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_redis)
        if "browser" in item.keywords and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
            item.add_marker(skip_browser)


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run inline in tests; the integration worker test opts out with its own app config."""
    from config.celery_app import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _isolated_cache():
    from django.core.cache import cache

    cache.clear()
    yield


_real_getaddrinfo = socket.getaddrinfo


def _resolve_reserved_names(host, *args, **kwargs):
    if isinstance(host, str) and host.rstrip(".").endswith((".example", ".test")):
        return _real_getaddrinfo("93.184.215.14", *args, **kwargs)  # a public address
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _reserved_names_resolve(monkeypatch):
    """Webhook URLs in tests use the reserved *.example and *.test names, which resolve nowhere. The SSRF
    guard resolves every host outside DEBUG (pytest-django runs with DEBUG off), so they resolve to a
    public address here; loopback receivers set DEBUG for themselves."""
    monkeypatch.setattr(socket, "getaddrinfo", _resolve_reserved_names)


@pytest.fixture(autouse=True)
def _redis_up_again(monkeypatch):
    """A test that takes Redis down leaves the process skipping Redis for config.redis.OUTAGE_SECONDS
    (the outage circuit): every test starts with that forgotten, or a throttle test run next fails open."""
    import config.redis

    monkeypatch.setattr(config.redis, "_down_until", 0.0)


class _Client(DjangoClient):
    """The test client; force_login of a staff user also verifies the session's second factor,
    as staff pages require it (tests of the two-factor steps themselves use a plain Client)."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        if user.is_staff:
            from tests.two_factor import verify_session

            verify_session(self, user)


@pytest.fixture
def client():
    return _Client()


@pytest.fixture
def seller(db):
    return factories.SellerFactory()


@pytest.fixture
def seller_user(db, seller):
    membership = factories.MembershipFactory(seller=seller)
    return membership.user


@pytest.fixture
def other_seller(db):
    return factories.SellerFactory(name="Other Seller")


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("staff", "staff@example.com", "correct-horse-battery")


# The sandbox providers as a real process, for integration and browser tests. Defined once, here: a fixture
# imported into another module is a second session-wide process, and each one repoints the settings.
from tests.integration.conftest import reset_providers, start_sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory):
    env = {**os.environ, "RAZORPAY_KEY_ID": "rzp_test_sandbox", "RAZORPAY_KEY_SECRET": "sandbox_key_secret",
           "RAZORPAY_WEBHOOK_SECRET": "sandbox_webhook_secret", "COINPAY_USERNAME": "sandbox",
           "COINPAY_PASSWORD": "sandbox-password", "COINPAY_WEBHOOK_SECRET": "sandbox_coinpay_secret"}
    process, url = start_sandbox(tmp_path_factory.mktemp("sandbox"), env)
    # Point every provider at it for the session (tests' own `settings` overrides still win).
    from django.conf import settings as django_settings

    urls = {"NANO_RPC_URL": f"{url}/nano", "NANO_WS_URL": process.nano_ws_url, "RAZORPAY_API_URL": f"{url}/razorpay",
            "RAZORPAY_CHECKOUT_URL": f"{url}/razorpay/checkout", "COINPAY_API_URL": f"{url}/coinpay",
            "SANDBOX_URL": url}
    previous = {name: getattr(django_settings, name) for name in urls}
    for name, value in urls.items():
        setattr(django_settings, name, value)
    reset_providers()
    django_settings.SANDBOX_SMTP_PORT = process.smtp_port  # where tests point EMAIL_PORT to reach the catcher
    yield url
    for name, value in previous.items():
        setattr(django_settings, name, value)
    reset_providers()
    process.terminate()
    process.wait(10)


@pytest.fixture
def browser(monkeypatch):
    """A headless Chromium for @pytest.mark.browser tests (use with live_server)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls
    # from such a thread unless told it is safe (it is: one thread drives both).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def screenshot(page, name: str, widths=(1280, 375), height: int = 900) -> None:
    """Save full-page screenshots at each width into var/artifacts/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for width in widths:
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    if original:
        page.set_viewport_size(original)


@pytest.fixture(scope="session", autouse=True)
def _close_stray_postgres_sessions(django_db_setup, django_db_blocker):
    """Threads and subprocesses (live_server, workers) can leave a session on the test
    database; end them before pytest-django drops it, so teardown never fails."""
    yield
    if not settings.IS_POSTGRES:
        return
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
