from sellers.forms import WebhookEndpointForm


def test_dashboard_refuses_private_webhook_urls_outside_the_sandbox(settings):
    settings.DEBUG = False
    settings.SANDBOX_MODE = False
    form = WebhookEndpointForm(data={"url": "http://127.0.0.1:8000/hook", "events": []})
    assert not form.is_valid()
    assert "url" in form.errors


def test_debug_allows_local_receivers(settings):
    settings.DEBUG = True
    form = WebhookEndpointForm(data={"url": "http://127.0.0.1:9000/hook", "events": []})
    assert form.is_valid(), form.errors
