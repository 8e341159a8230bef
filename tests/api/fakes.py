"""A scriptable stand-in provider: the API tests exercise the API, not a provider."""
from __future__ import annotations

from payments.providers.base import Observation, PaymentInstructions, Quote, RefundResult
from payments.providers.errors import VerificationFailed
from tests.factories import nano_address


class FakeProvider:
    code = "nano"
    start_is_local = False        # start() is asked after commit, as for a gateway
    refund_status = "succeeded"   # what refund() reports: succeeded | failed | pending

    def is_available(self, seller, order) -> bool:
        return True

    def quote(self, seller, order) -> Quote:
        if self.code == "nano":
            return Quote(pay_currency="XNO", amount_due=order.amount * 10, pay_to=nano_address(seller.slug),
                         unique_amount=True, rate_source="fixed")
        return Quote(pay_currency=order.currency, amount_due=order.amount)

    def start(self, payment) -> PaymentInstructions:
        return PaymentInstructions(pay_to=payment.pay_to or f"order_{payment.pk.hex[:14]}",
                                   payment_uri=f"{self.code}:{payment.pay_to}", provider_ref=f"ref_{payment.pk.hex}")

    def poll(self, payments) -> list[Observation]:
        return []

    def verify(self, payment, reference: str) -> list[Observation]:
        """A reference "good-<tx>" pays the payment in full; anything else is refused."""
        if not reference.startswith("good-"):
            raise VerificationFailed("block_not_found")
        from payments.money import due_in_wire_units

        return [Observation(provider=self.code, external_tx_id=reference, payment_ref=str(payment.pk),
                            amount=due_in_wire_units(payment.amount_due, payment.pay_currency), confirmed=True,
                            pay_to=payment.pay_to)]

    def parse_webhook(self, body, headers):
        return []

    def refund_anchor(self, payment, shopper_account: str = ""):
        """Nano: the seller sends the refund to the shopper's account, above height 0."""
        from payments.providers.nano import RefundAnchor

        return RefundAnchor(payment.pay_to, shopper_account or nano_address("fake-shopper"), 0)

    def refund(self, payment, amount_minor: int, **kwargs) -> RefundResult:
        return RefundResult(provider_refund_id=f"rfnd_{payment.pk.hex[:8]}_{amount_minor}",
                            status=type(self).refund_status, failure_reason="card expired"
                            if type(self).refund_status == "failed" else "")


class FakeNano(FakeProvider):
    code = "nano"


class FakeRazorpay(FakeProvider):
    code = "razorpay"


class FakeCoinPay(FakeProvider):
    code = "coinpay"
