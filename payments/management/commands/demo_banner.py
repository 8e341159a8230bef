import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from payments.demo import demo_logins


class Command(BaseCommand):
    help = ("Wait until the web process answers, then print where Kassa is and the demo logins and keys "
            "(`make run` runs it once its processes have started, so the logins don't scroll away).")

    def add_arguments(self, parser):
        parser.add_argument("--wait-url", default=f"{settings.SITE_URL}/healthz",
                            help="answered at all (any status) = the web process is up")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")

    def handle(self, *args, wait_url: str, timeout: float, **options):
        deadline = time.monotonic() + timeout
        while True:
            try:
                requests.get(wait_url, timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise CommandError(f"{wait_url} did not answer within {timeout:.0f} s") from None
                time.sleep(0.5)
        site = settings.SITE_URL.rstrip("/")
        rule = "─" * 64
        self.stdout.write("\n".join([
            rule,
            f"Kassa is up: {site}/dashboard/  (staff: {site}/admin/, API docs: {site}/api/docs/)",
            *demo_logins(),
            "Ctrl-C stops everything.",
            rule,
        ]))
