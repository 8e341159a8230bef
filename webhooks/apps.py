from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import webhooks.tasks  # noqa: F401  the outbox queues these by name (config.celery_app.task_named)
