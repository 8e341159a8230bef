import time

from django.core.management.base import BaseCommand

from payments.services import payment_expire_stale, payment_release_reservations


class Command(BaseCommand):
    help = "Expire stale pending payments (what beat runs every 30 s): --once for a single tick."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--interval", type=float, default=30.0)

    def handle(self, *args, once: bool, interval: float, **options):
        while True:
            expired = payment_expire_stale()
            released = payment_release_reservations()
            self.stdout.write(f"expired={expired} released_reservations={released}")
            if once:
                return
            time.sleep(interval)
