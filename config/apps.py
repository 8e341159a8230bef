from django.apps import AppConfig
from django.contrib import admin


class KassaConfig(AppConfig):
    """The project package as an app, so its system checks are registered at startup."""

    name = "config"
    label = "kassa"

    def ready(self):
        from config import checks  # noqa: F401  registers the checks

        admin.site.site_header = "Kassa"
        admin.site.site_title = "Kassa"
        admin.site.index_title = "Kassa staff"
        # The app list lives on the index; beside the filters it left a 1366 px laptop ~700 px for a changelist.
        admin.site.enable_nav_sidebar = False
