"""`sandbox serve` runs the sandbox providers; `sandbox pay` pays a payment through them.

    python manage.py sandbox serve [--port 7076] [--host 127.0.0.1] [--state-dir var/sandbox] [--quiet]
                                   [--nano-ws-port 7078 | --no-nano-ws]
    python manage.py sandbox pay <payment-id> [--amount 1.5] [--late] [--auto-receive] [--tick]
    python manage.py sandbox pay --refund <refund-id> [--tick]   # a Nano refund, sent from the seller's address
"""
from __future__ import annotations

import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from payments.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, add_nano_ws_arguments, nano_ws_port


class Command(BaseCommand):
    help = "Run the sandbox providers (serve), or pay a payment through them like a shopper (pay)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        serve = sub.add_parser("serve", help="run the sandbox HTTP process (Nano node, Razorpay, CoinPay)")
        serve.add_argument("--host", default=DEFAULT_HOST)
        serve.add_argument("--port", type=int, default=DEFAULT_PORT)
        serve.add_argument("--state-dir", default=None, help="defaults to SANDBOX_STATE_DIR")
        serve.add_argument("--quiet", action="store_true", help="no per-request log lines")
        add_nano_ws_arguments(serve)
        pay = sub.add_parser("pay", help="pay a payment as a shopper would")
        pay.add_argument("payment_id", nargs="?")
        pay.add_argument("--refund", metavar="REFUND_ID",
                         help="nano: send this awaiting refund from the seller's address, as the seller's wallet would")
        pay.add_argument("--amount", help="XNO for nano (e.g. 1.25); default: exactly the amount due")
        pay.add_argument("--late", action="store_true", help="expire the payment first, then pay")
        pay.add_argument("--auto-receive", action="store_true", help="nano: the seller's wallet receives at once")
        pay.add_argument("--tick", action="store_true", help="run one monitor tick afterwards")

    def handle(self, *args, action: str, **options):
        if action == "serve":
            from payments.sandbox.server import serve

            ws_port = nano_ws_port(options["port"], options["nano_ws_port"], options["no_nano_ws"])
            serve(options["host"], options["port"], options["state_dir"] or settings.SANDBOX_STATE_DIR,
                  quiet=options["quiet"], nano_ws_port=ws_port)
        else:
            self._pay(**options)

    def _pay(self, *, payment_id: str | None, refund: str | None, amount: str | None, late: bool,
             auto_receive: bool, tick: bool, **_):
        if refund:
            return self._send_refund(refund, tick=tick)
        if not payment_id:
            raise CommandError("Give a payment id, or --refund <refund id>.")
        from core.nano_codec import parse_xno
        from orders.actors import Actor
        from payments.models import Payment
        from payments.providers.errors import PaymentError
        from payments.sandbox.simulate import simulate_payment
        from payments.services import payment_expire_now

        try:
            payment = Payment.objects.select_related("order", "seller").get(pk=payment_id)
        except (Payment.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"No payment with id {payment_id}.") from None
        amount_raw = None
        if amount is not None:
            if payment.method != "nano":
                raise CommandError("--amount applies to nano only; the gateway sandboxes pay the order amount.")
            try:
                amount_raw = parse_xno(amount)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
        try:
            if late and payment.status == Payment.Status.PENDING:
                payment = payment_expire_now(payment=payment, actor=Actor.system("sandbox pay --late"))
            result = simulate_payment(payment, amount_raw=amount_raw, late=late, auto_receive=auto_receive)
        except PaymentError as exc:
            raise CommandError(f"{exc.__class__.__name__}: {exc}") from None
        self.stdout.write(json.dumps(result, default=str))
        if tick:
            from payments.monitor import monitor_tick

            self.stdout.write(json.dumps(monitor_tick((payment.method,)), default=str))

    def _send_refund(self, refund_id: str, *, tick: bool) -> None:
        from payments.models import Refund
        from payments.providers.errors import PaymentError
        from payments.sandbox.simulate import simulate_refund_send

        try:
            refund = Refund.objects.get(pk=refund_id)
        except (Refund.DoesNotExist, ValidationError, ValueError):
            raise CommandError(f"No refund with id {refund_id}.") from None
        try:
            result = simulate_refund_send(refund)
        except PaymentError as exc:
            raise CommandError(f"{exc.__class__.__name__}: {exc}") from None
        self.stdout.write(json.dumps(result, default=str))
        if tick:
            from payments.monitor import monitor_tick

            self.stdout.write(json.dumps(monitor_tick(("nano",)), default=str))
