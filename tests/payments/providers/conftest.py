"""Gateway providers under `responses`: fixed URLs and secrets, fresh provider instances."""
import pytest

from payments.providers.registry import reset_providers

RZP = "https://rzp.test"
CP = "https://coinpay.test"


@pytest.fixture(autouse=True)
def gateway_settings(settings):
    settings.RAZORPAY_API_URL = RZP
    settings.RAZORPAY_KEY_ID = "rzp_test_key"
    settings.RAZORPAY_KEY_SECRET = "key_secret"
    settings.RAZORPAY_WEBHOOK_SECRET = "webhook_secret"
    settings.COINPAY_API_URL = CP
    settings.COINPAY_USERNAME = "merchant"
    settings.COINPAY_PASSWORD = "pw"
    settings.COINPAY_WEBHOOK_SECRET = "cp_secret"
    settings.SITE_URL = "https://kassa.test"
    reset_providers()
    yield settings
    reset_providers()


@pytest.fixture
def no_sleep(monkeypatch):
    """Retries without waiting; records the delays asked for."""
    delays = []
    monkeypatch.setattr("payments.providers.http.time.sleep", delays.append)
    return delays
