"""`sandbox serve` runs the sandbox providers (installed only in sandbox mode).

    python manage.py sandbox serve [--port 7076] [--host 127.0.0.1] [--state-dir var/sandbox] [--quiet]
                                   [--nano-ws-port 7078 | --no-nano-ws] [--smtp-port 7025 | --no-smtp]
    python manage.py sandbox pay ...   # the same as `manage.py sandbox_pay ...`
"""
from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from sandbox.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    add_nano_ws_arguments,
    add_smtp_arguments,
    nano_ws_port,
    serve,
)


class Command(BaseCommand):
    help = "Run the sandbox providers (serve); `pay` is the product's `sandbox_pay` command."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        serve_parser = sub.add_parser("serve", help="run the sandbox HTTP process (Nano node, Razorpay, CoinPay)")
        serve_parser.add_argument("--host", default=DEFAULT_HOST)
        serve_parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        serve_parser.add_argument("--state-dir", default=None, help="defaults to SANDBOX_STATE_DIR")
        serve_parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
        add_nano_ws_arguments(serve_parser)
        add_smtp_arguments(serve_parser)
        serve_parser.set_defaults(smtp_port=settings.SANDBOX_SMTP_PORT)
        # Everything after `pay` goes to sandbox_pay unparsed ("+" prefix: "--refund" stays an argument).
        pay = sub.add_parser("pay", help="pay a payment as a shopper would (manage.py sandbox_pay)",
                             prefix_chars="+", add_help=False)
        pay.add_argument("pay_args", nargs="*")

    def handle(self, *args, action: str, **options):
        if action == "pay":
            # Kassa pays through the sandbox over HTTP; the command lives in the product, so
            # this only forwards by command name and imports nothing from it.
            call_command("sandbox_pay", *options["pay_args"], stdout=self.stdout, stderr=self.stderr)
            return
        ws_port = nano_ws_port(options["port"], options["nano_ws_port"], options["no_nano_ws"])
        serve(options["host"], options["port"], options["state_dir"] or settings.SANDBOX_STATE_DIR,
              quiet=options["quiet"], nano_ws_port=ws_port,
              smtp_port=None if options["no_smtp"] else options["smtp_port"])
