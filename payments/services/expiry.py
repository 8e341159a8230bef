"""The beat's expiry sweep and the release of reserved amounts."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from orders.actors import Actor
from orders.models import Order
from orders.services import orders_expire, timeline_events_insert
from payments.models import NanoCursor, Payment, PaymentEvent
from payments.representations import payment_data
from payments.services.transitions import _flag, _reserved_until
from webhooks.selectors import sellers_wanting_event
from webhooks.services import webhook_events_emit_many


def payment_expire_stale(*, now=None, batch_size: int = 1000) -> int:
    """Expire pending payments past expires_at + grace, set-based, in claimed batches.

    Each payment is claimed together with its order row (skip_locked on both), so two
    ticks at once (or a tick racing a completion) never touch the same row, and a payment
    whose order is locked elsewhere stays pending until a later tick can take both: its
    order can never be left open with nothing pending. Confirming payments never expire.
    Orders with no other active payment expire too (orders.services.orders_expire).
    One UPDATE … RETURNING expires a batch; its events and outbox rows are written from
    the returned rows, not from loaded payments.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PAYMENT_EXPIRY_GRACE_SECONDS)
    system = Actor.system("expiry")
    total = 0
    while True:
        with transaction.atomic():
            claimed = [row.pk for row in
                       Payment.objects.select_for_update(skip_locked=True, of=("self", "order"), no_key=True)
                       .select_related("order").only("pk", "order_id", "order__id")
                       .filter(status=Payment.Status.PENDING, expires_at__lt=cutoff)
                       # Oldest first along (status, expires_at); the default ordering sorts every stale row.
                       .order_by("expires_at")[:batch_size]]
            if not claimed:
                return total
            expired = _expire_pending(claimed, now)
            ids = [pk for pk, _order, _seller, _received in expired]
            timeline_events_insert(event_model=PaymentEvent, subject_ids=ids, type="payment.expired", actor=system,
                                   from_status=Payment.Status.PENDING, to_status=Payment.Status.EXPIRED, at=now)
            underpaid = [pk for pk, _order, _seller, received in expired if received not in ("", "0")]
            for payment in Payment.objects.select_for_update().filter(pk__in=underpaid):
                _flag(payment, Payment.Exception_.UNDERPAID, actor=system, data={"received": payment.amount_received})
            _expire_orders({order_id for _pk, order_id, _seller, _received in expired}, now, system)
            wanted = sellers_wanting_event("payment.expired", {seller for _pk, _order, seller, _received in expired})
            webhook_events_emit_many([
                (payment.seller_id, "payment.expired", payment_data(payment))
                for payment in Payment.objects.filter(pk__in=[pk for pk, _o, seller, _r in expired if seller in wanted])
            ])
            total += len(ids)


def _expire_pending(ids: list, now) -> list[tuple]:
    """UPDATE these payments, if still pending, to expired (keeping an underpaid one's slot
    through the monitoring window); (id, order_id, seller_id, amount_received) of each."""
    meta, quote = Payment._meta, connection.ops.quote_name
    pk = meta.pk
    column = {name: quote(meta.get_field(name).column)
              for name in ("status", "updated_at", "reserved_until", "amount_received", "order", "seller")}
    reserved_until = meta.get_field("reserved_until")
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, {column['updated_at']} = %s, "  # noqa: S608
           f"{column['reserved_until']} = CASE WHEN {column['amount_received']} IN ('', '0') THEN %s ELSE %s END "
           f"WHERE {quote(pk.column)} IN ({', '.join(['%s'] * len(ids))}) AND {column['status']} = %s "
           f"RETURNING {quote(pk.column)}, {column['order']}, {column['seller']}, {column['amount_received']}")
    params = [Payment.Status.EXPIRED, meta.get_field("updated_at").get_db_prep_save(now, connection),
              reserved_until.get_db_prep_save(_reserved_until(now, money_seen=False), connection),
              reserved_until.get_db_prep_save(_reserved_until(now, money_seen=True), connection),
              *(pk.get_db_prep_value(value, connection) for value in ids), Payment.Status.PENDING]
    order_pk = Order._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(pk.to_python(payment), order_pk.to_python(order), seller, received)
                for payment, order, seller, received in cursor.fetchall()]


def _expire_orders(order_ids: set, now, actor: Actor) -> None:
    """Open orders whose every payment is now inactive become expired (set-based, by
    orders.services, which writes order status).

    Requires: the caller holds these orders' row locks (taken with their payments), so
    none is skipped here.
    """
    still_active = set(Payment.objects.filter(order_id__in=order_ids, status__in=Payment.ACTIVE_STATUSES)
                       .values_list("order_id", flat=True))
    orders_expire(order_ids=order_ids - still_active, actor=actor, now=now)


def payment_release_reservations(*, now=None) -> int:
    """Free (address, amount) slots whose payment is closed and whose window has ended, once a
    monitor scan that began after the window has read the address. Releasing unread would drop the
    address from the watch while the node is down: money sent meanwhile would never be seen."""
    now = now or timezone.now()
    read_after_window = NanoCursor.objects.filter(address=OuterRef("pay_to"), checked_at__gt=OuterRef("reserved_until"))
    return Payment.objects.filter(amount_reserved=True, reserved_until__lt=now).exclude(
        status__in=Payment.ACTIVE_STATUSES).filter(Exists(read_after_window)).update(amount_reserved=False,
                                                                                     updated_at=now)
