from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from notifications import seller_notices, tasks  # noqa: F401 - registers the tasks by name
        from sellers.signals import webhook_endpoint_disabled

        webhook_endpoint_disabled.connect(seller_notices.webhook_disabled_queue,
                                          dispatch_uid="notifications.webhook_disabled")
