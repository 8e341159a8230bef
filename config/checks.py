"""Kassa's own system checks (`manage.py check --deploy`)."""
from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def sandbox_mode_in_deploy(app_configs, **kwargs):
    if not settings.SANDBOX_MODE:
        return []
    return [Warning(
        "SANDBOX_MODE is on: the sandbox's published provider credentials may be in use and shoppers see "
        "'Simulate payment'.",
        hint="Unset SANDBOX_MODE (it defaults to false) and set the real provider secrets.",
        id="kassa.W001",
    )]
