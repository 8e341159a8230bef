import json
import time

from django.core.management.base import BaseCommand

from payments.monitor import monitor_tick


class Command(BaseCommand):
    help = "Run the payment monitor (what beat runs every 10 s): --once for a single tick."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run one tick and exit")
        parser.add_argument("--interval", type=float, default=10.0)
        parser.add_argument("--method", action="append", help="only these methods (repeatable)")

    def handle(self, *args, once: bool, interval: float, method, **options):
        while True:
            summary = monitor_tick(tuple(method) if method else None)
            self.stdout.write(json.dumps(summary, default=str))
            if once:
                return
            time.sleep(interval)
