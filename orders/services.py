"""Every write to orders: creation, status transitions and the timeline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from config.errors import DomainError
from orders.actors import Actor
from orders.models import Order, OrderEvent, OrderItem, Product
from orders.states import order_can_transition
from sellers.models import Seller


class OrderError(DomainError):
    """A refused order operation; the message is safe to show."""

    code = "order_error"
    http_status = 409

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.user_message = message
        if code:
            self.code = code


@dataclass(frozen=True)
class ItemSpec:
    name: str
    unit_amount: int
    quantity: int = 1
    product: Product | None = None


def order_event_write(*, order: Order, type: str, actor: Actor, data: dict | None = None,
                      from_status: str = "", to_status: str = "") -> OrderEvent:
    event = OrderEvent(order=order, type=type, from_status=from_status, to_status=to_status,
                       data={**actor.describe(), **(data or {})}, **actor.event_fields())
    event.save(force_insert=True)
    return event


def timeline_events_insert(*, event_model: type[OrderEvent], subject_ids: list, type: str, actor: Actor,
                           from_status: str = "", to_status: str = "", at=None) -> None:
    """The same event on many subjects' timelines (`event_model`: OrderEvent, PaymentEvent...),
    in one INSERT … SELECT over the subjects' ids: no row is built in Python."""
    if not subject_ids:
        return
    meta = event_model._meta
    subject = meta.get_field(event_model.SUBJECT)
    subject_meta = subject.related_model._meta
    constants = {"type": type, "from_status": from_status, "to_status": to_status, "actor_type": actor.type,
                 "data": actor.describe(), "created_at": at or timezone.now()}
    fields = [meta.get_field(name) for name in constants]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column) for column in [subject.column, *(field.column for field in fields)])
    # Identifiers come from the models' metadata; every value is a bound parameter.
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
           f"SELECT {quote(subject_meta.pk.column)}, {', '.join(['%s'] * len(fields))} "
           f"FROM {quote(subject_meta.db_table)} "
           f"WHERE {quote(subject_meta.pk.column)} IN ({', '.join(['%s'] * len(subject_ids))})")
    params = [field.get_db_prep_save(constants[field.name], connection) for field in fields]
    params += [subject_meta.pk.get_db_prep_value(pk, connection) for pk in subject_ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def orders_expire(*, order_ids, actor: Actor, now=None) -> list:
    """Open orders among `order_ids` become expired: one UPDATE … RETURNING, then their
    order.expired events from the returned ids. The ids of the orders it expired.

    Requires: the caller holds these orders' row locks and has checked that none has a
    payment still active (payments' expiry does both)."""
    if not order_ids:
        return []
    now = now or timezone.now()
    meta, quote = Order._meta, connection.ops.quote_name
    pk, status, updated_at = meta.pk, meta.get_field("status"), meta.get_field("updated_at")
    ids = list(order_ids)
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (f"UPDATE {quote(meta.db_table)} SET {quote(status.column)} = %s, {quote(updated_at.column)} = %s "  # noqa: S608
           f"WHERE {quote(pk.column)} IN ({', '.join(['%s'] * len(ids))}) AND {quote(status.column)} = %s "
           f"RETURNING {quote(pk.column)}")
    params = [Order.Status.EXPIRED, updated_at.get_db_prep_save(now, connection),
              *(pk.get_db_prep_value(value, connection) for value in ids), Order.Status.OPEN]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expired = [pk.to_python(row[0]) for row in cursor.fetchall()]
    timeline_events_insert(event_model=OrderEvent, subject_ids=expired, type="order.expired", actor=actor,
                           from_status=Order.Status.OPEN, to_status=Order.Status.EXPIRED, at=now)
    return expired


def order_create(*, seller: Seller, currency: str, items: list[ItemSpec], actor: Actor,
                 reference: str = "", customer_email: str = "", metadata: dict[str, Any] | None = None,
                 partner_user_id: str = "") -> Order:
    if not items:
        raise OrderError("An order needs at least one item.", code="invalid_request")
    if any(item.unit_amount <= 0 or item.quantity <= 0 for item in items):
        raise OrderError("Item amounts and quantities must be positive.", code="invalid_request")
    total = sum(item.unit_amount * item.quantity for item in items)
    # No savepoint: inside the API's one transaction a failure ends the whole request anyway.
    with transaction.atomic(savepoint=False):
        order = Order(seller=seller, currency=currency.upper(), amount=total, reference=reference,
                      customer_email=customer_email, metadata=metadata or {}, partner_user_id=partner_user_id)
        order.save(force_insert=True)
        OrderItem.objects.bulk_create(
            OrderItem(order=order, product=item.product, name=item.name, unit_amount=item.unit_amount,
                      quantity=item.quantity) for item in items)
        order_event_write(order=order, type="order.created", actor=actor, to_status=order.status,
                          data={"amount": total, "currency": order.currency})
    return order


def order_transition(*, order_id, to_status: str, actor: Actor, event_type: str | None = None,
                     data: dict | None = None, locked: Order | None = None, **fields: Any) -> Order | None:
    """Move an order to `to_status` if the table allows it from its current status.

    Locks the order row (select_for_update); must run inside the caller's transaction
    or opens its own. `locked`: the order row the caller already holds FOR UPDATE in
    this transaction (read then), so it is not read again. Returns the order, or None
    when the move is not allowed (the caller decides whether that is an error).
    """
    # No savepoint: an error here aborts the caller's transaction anyway (saves 2 round trips).
    with transaction.atomic(savepoint=False):
        order = locked if locked is not None else \
            Order.objects.select_for_update(no_key=True).get(pk=order_id)
        if order.status == to_status and to_status != "partially_refunded":
            return None
        if not order_can_transition(order.status, to_status):
            return None
        from_status = order.status
        order.status = to_status
        for name, value in fields.items():
            setattr(order, name, value)
        order.save(update_fields=["status", "updated_at", *fields])
        order_event_write(order=order, type=event_type or f"order.{to_status}", actor=actor,
                          from_status=from_status, to_status=to_status, data=data)
    return order


def order_mark_fulfilled(*, order: Order, actor: Actor, delivery_info: str | None = None) -> Order:
    fields = {"fulfilled_at": timezone.now()}
    if delivery_info is not None:
        fields["delivery_info"] = delivery_info
    with transaction.atomic():
        locked = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        if locked.status == Order.Status.PARTIALLY_REFUNDED:
            return _fulfil_keeping_status(locked, actor, fields)
        updated = order_transition(order_id=order.pk, to_status="fulfilled", actor=actor, locked=locked, **fields)
    if updated is None:
        raise OrderError(f"Only a paid order can be fulfilled; this one is {order.get_status_display().lower()}.")
    return updated


def _fulfil_keeping_status(locked: Order, actor: Actor, fields: dict) -> Order:
    """A partially refunded order is still delivered: the status keeps saying what was refunded (money),
    fulfilled_at and the order.fulfilled event record the delivery, once."""
    if locked.fulfilled_at is not None:
        raise OrderError("This order is already fulfilled.")
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save(update_fields=["updated_at", *fields])
    order_event_write(order=locked, type="order.fulfilled", actor=actor, from_status=locked.status,
                      to_status=locked.status)
    return locked


def order_update_delivery(*, order: Order, delivery_info: str, actor: Actor) -> Order:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.delivery_info == delivery_info:
            return locked
        locked.delivery_info = delivery_info
        locked.save(update_fields=["delivery_info", "updated_at"])
        order_event_write(order=locked, type="order.delivery_updated", actor=actor,
                          data={"delivery_info": delivery_info[:500]})
    return locked



def order_partner_bind(*, order: Order, partner_user_id: str, actor: Actor) -> bool:
    """Bind an unbound order to a verified partner shopper (issue 8); never re-binds.

    A conditional UPDATE (only while partner_user_id is empty), so two tabs bind once.
    Returns whether this call bound it.
    """
    if not partner_user_id:
        return False
    with transaction.atomic():
        bound = Order.objects.filter(pk=order.pk, partner_user_id="").update(
            partner_user_id=partner_user_id, updated_at=timezone.now())
        if bound:
            order_event_write(order=order, type="order.partner_bound", actor=actor,
                              data={"partner_user_id": partner_user_id})
    if bound:
        order.partner_user_id = partner_user_id
    return bool(bound)

def order_set_customer_email(*, order: Order, email: str, actor: Actor) -> bool:
    """The shopper's receipt address from checkout, while the order is open. Returns whether it changed."""
    email = email.strip()
    if not email or email == order.customer_email:
        return False
    with transaction.atomic():
        changed = Order.objects.filter(pk=order.pk, status=Order.Status.OPEN).update(
            customer_email=email, updated_at=timezone.now())
        if changed:
            order_event_write(order=order, type="order.customer_email_set", actor=actor)
    if changed:
        order.customer_email = email
    return bool(changed)


# --- the seller's catalog (dashboard) -----------------------------------------------------------

PRODUCT_FIELDS = ("name", "description", "unit_amount", "currency")


def product_create(*, seller: Seller, name: str, unit_amount: int, currency: str, description: str = "") -> Product:
    product = Product(seller=seller, name=name, unit_amount=unit_amount, currency=currency.upper(),
                      description=description)
    product.full_clean()
    product.save()
    return product


def product_update(*, product: Product, **changes) -> Product:
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValueError(f"Not a product field: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(product, name, value)
    product.full_clean()
    product.save(update_fields=list(changes))
    return product


def product_archive(*, product: Product, archived: bool = True) -> Product:
    """Archived products leave the storefront; past orders keep pointing at them."""
    product.is_active = not archived
    product.save(update_fields=["is_active"])
    return product
