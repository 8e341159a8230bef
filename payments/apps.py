from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported in ready(), not at the top: these modules need the models, which load after apps.py.
        # A provider or monitor module that cannot be imported stops every process at start
        # (web, worker, beat): better than a method that quietly stops being monitored.
        from payments.monitor import monitor_ticks_load
        from payments.providers.registry import provider_classes_load

        provider_classes_load()
        monitor_ticks_load()
        import payments.tasks  # noqa: F401  services queue these by name (config.celery_app.task_named)
