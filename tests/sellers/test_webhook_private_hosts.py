"""Outside DEBUG the SSRF guard refuses webhook URLs on private or loopback addresses, except hosts the
operator lists in WEBHOOK_PRIVATE_HOSTS (their own receivers; the soak's runs on 127.0.0.1)."""
import pytest
from django.core.exceptions import ValidationError

from sellers.validators import validate_webhook_url


def test_loopback_is_refused_unless_its_host_is_listed(settings):
    settings.DEBUG = False
    settings.WEBHOOK_PRIVATE_HOSTS = []
    with pytest.raises(ValidationError):
        validate_webhook_url("http://127.0.0.1:9000/hooks")
    settings.WEBHOOK_PRIVATE_HOSTS = ["127.0.0.1"]
    validate_webhook_url("http://127.0.0.1:9000/hooks")
    with pytest.raises(ValidationError):
        validate_webhook_url("http://10.0.0.5/hooks")  # only the listed host
