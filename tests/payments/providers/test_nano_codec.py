"""Nano address and unit helpers: published vectors, every rejection path, round trips."""
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.nano_codec import (
    MAX_RAW,
    RAW_PER_MICRO,
    RAW_PER_XNO,
    InvalidAddress,
    address_to_public_key,
    format_raw,
    is_valid_address,
    micro_to_raw,
    normalize_address,
    parse_raw,
    parse_xno,
    public_key_hex,
    public_key_to_address,
    raw_to_micro,
)

GENESIS = "nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3"
GENESIS_KEY = "E89208DD038FBB269987689621D52292AE9C35941A7484756ECCED92A65093BA"
BURN = "nano_1111111111111111111111111111111111111111111111111111hifc8npp"


# --- addresses ---------------------------------------------------------------------------


def test_genesis_vector_both_ways():
    assert public_key_to_address(GENESIS_KEY) == GENESIS
    assert public_key_to_address(bytes.fromhex(GENESIS_KEY)) == GENESIS
    assert public_key_to_address(GENESIS_KEY.lower()) == GENESIS
    assert address_to_public_key(GENESIS) == bytes.fromhex(GENESIS_KEY)
    assert public_key_hex(GENESIS) == GENESIS_KEY


def test_burn_address_is_the_zero_key():
    assert public_key_to_address(bytes(32)) == BURN
    assert address_to_public_key(BURN) == bytes(32)


def test_xrb_prefix_decodes_and_normalizes_to_nano():
    legacy = "xrb_" + GENESIS[len("nano_"):]
    assert address_to_public_key(legacy) == bytes.fromhex(GENESIS_KEY)
    assert public_key_to_address(GENESIS_KEY, prefix="xrb_") == legacy
    assert normalize_address(f"  {legacy}\n") == GENESIS


def test_normalize_lowercases_and_validates():
    assert normalize_address(GENESIS.upper()) == GENESIS
    with pytest.raises(InvalidAddress, match="bad checksum"):
        normalize_address(GENESIS[:-1] + "1")


def test_bad_checksum():
    tampered = GENESIS[:-1] + ("4" if GENESIS[-1] != "4" else "5")
    with pytest.raises(InvalidAddress, match="bad checksum"):
        address_to_public_key(tampered)
    assert not is_valid_address(tampered)


def test_key_change_breaks_checksum():
    tampered = GENESIS[:10] + ("a" if GENESIS[10] != "a" else "b") + GENESIS[11:]
    with pytest.raises(InvalidAddress, match="bad checksum"):
        address_to_public_key(tampered)


@pytest.mark.parametrize("char", ["l", "v", "0", "2", "A", "_"])
def test_invalid_character(char):
    bad = GENESIS[:20] + char + GENESIS[21:]
    with pytest.raises(InvalidAddress, match=f"invalid character '{char}'"):
        address_to_public_key(bad)


@pytest.mark.parametrize("address", [GENESIS[:-1], GENESIS + "1", "nano_", "nano_3t6k"])
def test_wrong_length(address):
    with pytest.raises(InvalidAddress, match="wrong length"):
        address_to_public_key(address)


@pytest.mark.parametrize(
    "address", ["btc_" + GENESIS[5:], GENESIS[5:], "NANO_" + GENESIS[5:], "", "nano-" + GENESIS[5:]]
)
def test_unknown_prefix(address):
    with pytest.raises(InvalidAddress, match="unknown prefix"):
        address_to_public_key(address)


def test_padding_bits_must_be_zero():
    # First character encodes 4 zero padding bits + the key's top bit: only '1' or '3'.
    with pytest.raises(InvalidAddress, match="first position"):
        address_to_public_key("nano_5" + GENESIS[6:])


@pytest.mark.parametrize("value", [None, 42, b"nano_1", ["nano_1"]])
def test_non_strings_are_invalid_not_crashes(value):
    assert not is_valid_address(value)
    with pytest.raises(InvalidAddress):
        address_to_public_key(value)


def test_invalid_address_is_a_value_error():
    assert issubclass(InvalidAddress, ValueError)


@pytest.mark.parametrize("key", ["00" * 31, "zz" * 32, b"\x00" * 33])
def test_bad_public_keys(key):
    with pytest.raises(ValueError):
        public_key_to_address(key)


def test_unknown_prefix_when_encoding():
    with pytest.raises(ValueError, match="unknown prefix"):
        public_key_to_address(GENESIS_KEY, prefix="ban_")


@given(st.binary(min_size=32, max_size=32))
def test_address_round_trip(key):
    address = public_key_to_address(key)
    assert address.startswith("nano_") and len(address) == 65
    assert address[5] in "13"
    assert address_to_public_key(address) == key
    assert is_valid_address(address)
    assert normalize_address(address.replace("nano_", "xrb_")) == address


# --- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("1", RAW_PER_XNO),
        ("0", 0),
        ("0.000001", RAW_PER_MICRO),
        ("1.5", 15 * 10**29),
        ("0.000000000000000000000000000001", 1),
        ("2.000000000000000000000000000000", 2 * RAW_PER_XNO),
        ("  12.25  ", 1225 * 10**28),
        ("0340282366.920938463463374607431768211455", MAX_RAW),
    ],
)
def test_parse_xno_exact(text, raw):
    assert parse_xno(text) == raw


def test_parse_xno_accepts_exact_types():
    assert parse_xno(3) == 3 * RAW_PER_XNO
    assert parse_xno(Decimal("0.1")) == 10**29
    assert parse_xno(Decimal("1E-30")) == 1


@pytest.mark.parametrize(
    "text",
    ["-1", "1e3", "1,5", ".5", "5.", "+1", "abc", "", " ", "1.2.3", "١", "NaN", "0x10", "1_000"],
)
def test_parse_xno_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_xno(text)


def test_parse_xno_rejects_more_than_30_decimals():
    with pytest.raises(ValueError, match="at most 30 decimals"):
        parse_xno("0." + "0" * 30 + "1")
    with pytest.raises(ValueError, match="at most 30 decimals"):
        parse_xno("1." + "0" * 31)


@pytest.mark.parametrize("value", [1.5, 0.1, True, -1, Decimal("-1"), Decimal("NaN"), None])
def test_parse_xno_rejects_floats_and_negatives(value):
    with pytest.raises(ValueError):
        parse_xno(value)


def test_parse_xno_rejects_more_than_supply():
    with pytest.raises(ValueError, match="supply"):
        parse_xno("340282366.920938463463374607431768211456")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (0, "0"),
        (1, "0.000000000000000000000000000001"),
        (RAW_PER_XNO, "1"),
        (RAW_PER_MICRO, "0.000001"),
        (15 * 10**29, "1.5"),
        ("1000000000000000000000000000000", "1"),
        (MAX_RAW, "340282366.920938463463374607431768211455"),
        (-RAW_PER_MICRO, "-0.000001"),
    ],
)
def test_format_raw_exact(raw, text):
    assert format_raw(raw) == text


@pytest.mark.parametrize("raw", ["1.5", "-3", "1e30", 1.0, None, True, ""])
def test_raw_inputs_must_be_ints_or_digit_strings(raw):
    with pytest.raises(ValueError):
        parse_raw(raw)


def test_micro_conversions():
    assert micro_to_raw(1) == RAW_PER_MICRO
    assert micro_to_raw("250") == 250 * RAW_PER_MICRO
    assert raw_to_micro(5 * RAW_PER_MICRO) == 5
    assert raw_to_micro(str(5 * RAW_PER_MICRO)) == 5
    with pytest.raises(ValueError, match="whole number"):
        raw_to_micro(5 * RAW_PER_MICRO + 1)
    assert raw_to_micro(5 * RAW_PER_MICRO + 1, exact=False) == 5


@given(st.integers(min_value=0, max_value=MAX_RAW))
def test_format_then_parse_round_trip(raw):
    text = format_raw(raw)
    assert parse_xno(text) == raw
    assert not ("." in text and text.endswith("0"))


@given(
    st.integers(min_value=0, max_value=340_282_365),
    st.text(alphabet="0123456789", min_size=0, max_size=30),
)
def test_parse_then_format_is_canonical(whole, fraction):
    text = f"{whole}.{fraction}" if fraction else str(whole)
    canonical = f"{whole}.{fraction.rstrip('0')}" if fraction.rstrip("0") else str(whole)
    assert format_raw(parse_xno(text)) == canonical


@given(st.integers(min_value=0, max_value=MAX_RAW // RAW_PER_MICRO))
def test_micro_round_trip(micro):
    assert raw_to_micro(micro_to_raw(micro)) == micro


@pytest.mark.parametrize("raw", [2**128, str(10**40)])
def test_raw_amounts_past_128_bits_are_refused(raw):
    """A Nano amount is a 128-bit integer; anything longer could not be stored in the 40-character columns."""
    with pytest.raises(ValueError, match="2\\*\\*128"):
        parse_raw(raw)
    assert parse_raw(2**128 - 1) == 2**128 - 1
