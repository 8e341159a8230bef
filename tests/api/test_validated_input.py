"""config.api.validated_input (one built serializer per thread) answers exactly as a fresh
serializer's is_valid(raise_exception=True) would, for good and bad bodies alike."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from config.api import validated_input
from orders.api import OrderCreateApi
from payments.api import PaymentStartApi

GOOD = {"reference": "A-1", "currency": "inr", "customer_email": "x@y.z", "metadata": {"k": "v"},
        "items": [{"name": "Print", "unit_amount": 49900, "quantity": 2}, {"name": "Frame", "unit_amount": 1}]}


def _fresh(serializer_class, data):
    serializer = serializer_class(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as exc:
        return "error", exc.detail
    return "ok", serializer.validated_data


def _reused(serializer_class, data):
    try:
        return "ok", validated_input(serializer_class, data)
    except ValidationError as exc:
        return "error", exc.detail


BODIES = [
    GOOD, {}, [], "text", None, {"currency": "XYZ", "items": []},
    {**GOOD, "items": [{"name": 5, "unit_amount": "12", "quantity": 0}, {"unit_amount": 1.5}]},
    {**GOOD, "items": [{"name": "A", "unit_amount": 10**12, "quantity": 2}]},
    {**GOOD, "customer_email": "not-an-email", "metadata": []},
]


@pytest.mark.parametrize("body", BODIES)
def test_order_input_matches_a_fresh_serializer(body):
    assert _reused(OrderCreateApi.InputSerializer, body) == _fresh(OrderCreateApi.InputSerializer, body)


@pytest.mark.parametrize("body", [{"method": "nano"}, {"method": "cash"}, {}, {"method": ["nano"]}, 7])
def test_payment_start_input_matches_a_fresh_serializer(body):
    assert _reused(PaymentStartApi.InputSerializer, body) == _fresh(PaymentStartApi.InputSerializer, body)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({}, optional={"currency": json_values | st.sampled_from(["INR", "usd", "XNO"]),
                                           "items": st.lists(st.fixed_dictionaries(
                                               {}, optional={"name": json_values, "unit_amount": json_values,
                                                             "quantity": json_values}), max_size=3) | json_values,
                                           "reference": json_values, "metadata": json_values}))
def test_any_order_body_gets_the_same_answer_one_after_another(body):
    # The same built instance serves every example: state from one must not leak into the next.
    assert _reused(OrderCreateApi.InputSerializer, body) == _fresh(OrderCreateApi.InputSerializer, body)
