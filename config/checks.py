"""Kassa's own system checks (`manage.py check --deploy`)."""
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
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


@register(deploy=True)
def static_manifest_present(app_configs, **kwargs):
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.manifest_storage.exists(staticfiles_storage.manifest_name):
        return []
    return [Warning(
        "There is no static files manifest: every HTML page will answer 500 and /healthz 503.",
        hint="Run `python manage.py collectstatic --noinput` before starting the web process.",
        id="kassa.W002",
    )]
