from hypothesis import given
from hypothesis import strategies as st

from payments.money import RAW_PER_MICRO_XNO, due_in_wire_units, fee_split


@given(gross=st.integers(min_value=-(10**15), max_value=10**15), bps=st.integers(min_value=0, max_value=10_000))
def test_split_is_exact(gross, bps):
    split = fee_split(gross, bps)
    assert split.gross == split.fee + split.net == gross
    assert isinstance(split.fee, int) and isinstance(split.net, int)
    assert abs(split.fee) <= abs(gross)
    # The fee is within half a minor unit of the exact proportion.
    assert abs(split.fee * 10_000 - gross * bps) <= 5_000


def test_awkward_amounts():
    assert fee_split(1, 250) == fee_split(1, 250)
    assert fee_split(1, 250).fee == 0 and fee_split(1, 250).net == 1
    assert fee_split(20, 250).fee == 1  # 0.5 rounds half up
    assert fee_split(49900, 250).fee == 1248  # 1247.5 → 1248
    assert fee_split(-49900, 250).fee == -1248


def test_wire_units():
    assert due_in_wire_units(5, "XNO") == 5 * RAW_PER_MICRO_XNO
    assert due_in_wire_units(49900, "INR") == 49900
