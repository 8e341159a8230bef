# Load Celery with Django so @shared_task binds to our app (cookiecutter-django).
from .celery_app import app as celery_app

__all__ = ("celery_app",)
