from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The sandbox providers (Nano node, Razorpay, CoinPay, partner app) as one HTTP process.
    Installed only in sandbox mode (config/settings.py); the product never imports it."""

    name = "sandbox"
    label = "sandbox"
    verbose_name = "Sandbox providers"
