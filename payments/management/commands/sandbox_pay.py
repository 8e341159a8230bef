"""`sandbox_pay` pays a payment through the sandbox process over HTTP, like a shopper would
(sandbox mode only; the sandbox itself runs as `manage.py sandbox serve`).

    python manage.py sandbox_pay <payment-id> [--amount 1.5] [--late] [--auto-receive] [--tick]
    python manage.py sandbox_pay --refund <refund-id> [--tick]   # a Nano refund, sent from the seller's address
"""
from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core.nano_codec import parse_xno
from orders.actors import Actor
from payments.models import Payment, Refund
from payments.monitor import monitor_tick
from payments.providers.errors import PaymentError
from payments.sandbox_client import simulate_payment, simulate_refund_send
from payments.services import payment_expire_now


class Command(BaseCommand):
    help = "Pay a payment through the sandbox like a shopper (or send an awaiting Nano refund)."

    def add_arguments(self, parser):
        parser.add_argument("payment_id", nargs="?")
        parser.add_argument("--refund", metavar="REFUND_ID",
                            help="nano: send this awaiting refund from the seller's address, as their wallet would")
        parser.add_argument("--amount", help="XNO for nano (e.g. 1.25); default: exactly the amount due")
        parser.add_argument("--late", action="store_true", help="expire the payment first, then pay")
        parser.add_argument("--auto-receive", action="store_true", help="nano: the seller's wallet receives at once")
        parser.add_argument("--tick", action="store_true", help="run one monitor tick afterwards")

    def handle(self, *args, **options):
        self._pay(**options)

    def _pay(self, *, payment_id: str | None, refund: str | None, amount: str | None, late: bool,
             auto_receive: bool, tick: bool, **_):
        if refund:
            return self._send_refund(refund, tick=tick)
        if not payment_id:
            raise CommandError("Give a payment id, or --refund <refund id>.")
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
                payment = payment_expire_now(payment=payment, actor=Actor.system("sandbox_pay --late"))
            result = simulate_payment(payment, amount_raw=amount_raw, late=late, auto_receive=auto_receive)
        except PaymentError as exc:
            raise CommandError(f"{exc.__class__.__name__}: {exc}") from None
        self.stdout.write(json.dumps(result, default=str))
        if tick:
            self.stdout.write(json.dumps(monitor_tick((payment.method,)), default=str))

    def _send_refund(self, refund_id: str, *, tick: bool) -> None:
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
            self.stdout.write(json.dumps(monitor_tick(("nano",)), default=str))
