"""factory-boy factories for every model the tests build."""
import hashlib
from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from orders.models import Order, OrderItem, Product
from payments.models import Payment, Receipt
from sellers.models import PayoutDestination, Seller, SellerMembership


def nano_address(seed: str) -> str:
    """A valid (checksummed) Nano address derived from a seed string."""
    from core.nano_codec import public_key_to_address

    return public_key_to_address(hashlib.sha256(seed.encode()).digest())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    # Hashed before the insert, so the saved row has a usable password (force_login keeps its session).
    password = factory.django.Password("correct-horse-battery")


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    slug = factory.Sequence(lambda n: f"seller-{n}")
    name = factory.Sequence(lambda n: f"Seller {n}")
    timezone = "Asia/Kolkata"
    default_currency = "INR"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SellerMembership

    user = factory.SubFactory(UserFactory)
    seller = factory.SubFactory(SellerFactory)


class PayoutDestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PayoutDestination

    seller = factory.SubFactory(SellerFactory)
    method = "nano"
    value = factory.LazyAttribute(lambda o: nano_address(f"{o.seller.slug}-payout"))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    seller = factory.SubFactory(SellerFactory)
    name = factory.Sequence(lambda n: f"Product {n}")
    unit_amount = 49900
    currency = "INR"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    seller = factory.SubFactory(SellerFactory)
    currency = "INR"
    amount = 49900
    reference = factory.Sequence(lambda n: f"A-{n}")
    customer_email = "shopper@example.com"

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        if create and not extracted:
            OrderItem.objects.create(order=self, name="Art print", unit_amount=self.amount, quantity=1)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    seller = factory.LazyAttribute(lambda o: o.order.seller)
    method = "nano"
    currency = factory.LazyAttribute(lambda o: o.order.currency)
    amount = factory.LazyAttribute(lambda o: o.order.amount)
    pay_currency = "XNO"
    amount_due = factory.Sequence(lambda n: 5_000_000 + n)  # µXNO
    pay_to = factory.LazyAttribute(lambda o: nano_address(f"{o.seller.slug}-payout"))
    amount_reserved = True
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))
    reserved_until = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24, minutes=30))


class GatewayPaymentFactory(PaymentFactory):
    method = "razorpay"
    pay_currency = factory.LazyAttribute(lambda o: o.order.currency)
    amount_due = factory.LazyAttribute(lambda o: o.order.amount)
    pay_to = ""
    provider_ref = factory.Sequence(lambda n: f"order_Test{n:010d}")
    amount_reserved = False
    reserved_until = None


class ReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Receipt

    provider = "nano"
    external_tx_id = factory.Sequence(lambda n: f"{n:064X}")
    amount = "1"
