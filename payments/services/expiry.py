"""The beat's expiry sweep and the release of reserved amounts."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.actors import Actor
from orders.models import Order, OrderEvent
from payments.models import Payment, PaymentEvent
from payments.representations import payment_data
from payments.services.transitions import _flag, _reserved_until
from webhooks.services import webhook_events_emit_many


def payment_expire_stale(*, now=None, batch_size: int = 1000) -> int:
    """Expire pending payments past expires_at + grace, set-based, in claimed batches.

    Each payment is claimed together with its order row (skip_locked on both), so two
    ticks at once (or a tick racing a completion) never touch the same row, and a payment
    whose order is locked elsewhere stays pending until a later tick can take both: its
    order can never be left open with nothing pending. Confirming payments never expire.
    Orders with no other active payment expire too.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PAYMENT_EXPIRY_GRACE_SECONDS)
    total = 0
    while True:
        with transaction.atomic():
            claimed = [
                (row.pk, row.order_id, row.amount_received) for row in
                Payment.objects.select_for_update(skip_locked=True, of=("self", "order"), no_key=True)
                .select_related("order").only("pk", "order_id", "amount_received", "order__id")
                .filter(status=Payment.Status.PENDING, expires_at__lt=cutoff)[:batch_size]
            ]
            if not claimed:
                return total
            ids = [pk for pk, _, _ in claimed]
            underpaid = [pk for pk, _, received in claimed if received not in ("", "0")]
            for money_seen, group in ((True, underpaid), (False, sorted(set(ids) - set(underpaid)))):
                if group:
                    Payment.objects.filter(pk__in=group, status=Payment.Status.PENDING).update(
                        status=Payment.Status.EXPIRED, updated_at=now,
                        reserved_until=_reserved_until(now, money_seen=money_seen),
                    )
            system = Actor.system("expiry")
            PaymentEvent.objects.bulk_create(
                PaymentEvent(payment_id=pk, type="payment.expired", from_status="pending", to_status="expired",
                             data=system.describe(), actor_type=system.type, created_at=now)
                for pk in ids
            )
            for payment in Payment.objects.select_for_update().filter(pk__in=underpaid):
                _flag(payment, Payment.Exception_.UNDERPAID, actor=system, data={"received": payment.amount_received})
            _expire_orders({order_id for _, order_id, _ in claimed}, now, system)
            webhook_events_emit_many([
                (payment.seller_id, "payment.expired", payment_data(payment))
                for payment in Payment.objects.filter(pk__in=ids).select_related("order")
            ])
            total += len(ids)


def _expire_orders(order_ids: set, now, actor: Actor) -> None:
    """Open orders whose every payment is now inactive become expired (set-based).

    Requires: the caller holds these orders' row locks (taken with their payments), so
    none is skipped here.
    """
    still_active = set(Payment.objects.filter(order_id__in=order_ids, status__in=Payment.ACTIVE_STATUSES)
                       .values_list("order_id", flat=True))
    targets = list(Order.objects.select_for_update(no_key=True)
                   .filter(pk__in=order_ids - still_active, status=Order.Status.OPEN).values_list("pk", flat=True))
    Order.objects.filter(pk__in=targets, status=Order.Status.OPEN).update(status=Order.Status.EXPIRED, updated_at=now)
    OrderEvent.objects.bulk_create(
        OrderEvent(order_id=pk, type="order.expired", from_status="open", to_status="expired",
                   data=actor.describe(), actor_type=actor.type, created_at=now)
        for pk in targets
    )


def payment_release_reservations(*, now=None) -> int:
    """Free (address, amount) slots whose payment is closed and whose window has ended."""
    now = now or timezone.now()
    return Payment.objects.filter(amount_reserved=True, reserved_until__lt=now).exclude(
        status__in=Payment.ACTIVE_STATUSES).update(amount_reserved=False, updated_at=now)
