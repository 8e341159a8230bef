"""sellers.money and the `kassa` template filters. Plain tests: no database, no settings."""
from datetime import UTC, datetime
from decimal import Decimal, localcontext

import pytest
from django.template import Context, Engine
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from sellers import money
from sellers.templatetags import kassa

CURRENCIES = sorted(money.EXPONENTS)
UINT128_MAX = 2**128 - 1  # the largest raw amount a Nano block can hold


def render(source: str, **context) -> str:
    engine = Engine(libraries={"kassa": "sellers.templatetags.kassa"})
    return engine.from_string("{% load kassa %}" + source).render(Context(context))


# --- currency_exponent / is_supported_currency -------------------------------

@pytest.mark.parametrize(("code", "exponent"), [("INR", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3), ("XNO", 6)])
def test_currency_exponent(code, exponent):
    assert money.currency_exponent(code) == exponent


def test_currency_exponent_accepts_lowercase_but_rejects_unknown():
    assert money.currency_exponent(" inr ") == 2
    with pytest.raises(ValueError, match="Unknown currency"):
        money.currency_exponent("ABC")


def test_is_supported_currency_is_strict():
    assert money.is_supported_currency("INR")
    assert money.is_supported_currency("XNO")
    assert not money.is_supported_currency("inr")
    assert not money.is_supported_currency("ZZZ")
    assert not money.is_supported_currency(None)


# --- format_minor -----------------------------------------------------------

@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (123450, "INR", "₹1,234.50"),
        (123450, "USD", "$1,234.50"),
        (5, "EUR", "€0.05"),
        (1234567, "XNO", "Ӿ1.234567"),
        (1, "XNO", "Ӿ0.000001"),
        (123450, "GBP", "£1,234.50"),
        (1234, "JPY", "¥1,234"),
        (1234, "KWD", "KWD\xa01.234"),
        (0, "INR", "₹0.00"),
        (0, "XNO", "Ӿ0.000000"),
        (0, "JPY", "¥0"),
        (-123450, "INR", "-₹1,234.50"),
        (-5, "GBP", "-£0.05"),
        (10**40, "USD", "$100,000,000,000,000,000,000,000,000,000,000,000,000.00"),
    ],
)
def test_format_minor(amount, currency, text):
    assert money.format_minor(amount, currency) == text


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (12488400, "INR", "en-IN", "₹1,24,884.00"),  # lakh grouping
        (12488400, "INR", "en", "₹124,884.00"),
        (123400, "USD", "en", "$1,234.00"),
        (123400, "USD", "en-IN", "$1,234.00"),
        (123456000000, "XNO", "en-IN", "Ӿ1,23,456.000000"),  # one notation: Ӿ, six decimals
        (1234567, "XNO", "en-US", "Ӿ1.234567"),
        (10**40 + 1, "USD", "en", "$100,000,000,000,000,000,000,000,000,000,000,000,000.01"),  # no 28-digit rounding
        (123450, "INR", "not-a-locale", "₹1,234.50"),
    ],
)
def test_format_minor_follows_the_locale(amount, currency, locale, text):
    assert money.format_minor(amount, currency, locale=locale) == text


def test_format_minor_defaults_to_the_active_language():
    with translation.override("en-in"):
        assert money.format_minor(12488400, "INR") == "₹1,24,884.00"
        assert render("{{ a|money:c }}", a=12488400, c="INR") == "₹1,24,884.00"
    with translation.override("en"):
        assert money.format_minor(12488400, "INR") == "₹124,884.00"


@pytest.mark.parametrize("bad", [12.5, Decimal("12"), "1200", True, None])
def test_format_minor_takes_integers_only(bad):
    with pytest.raises(TypeError):
        money.format_minor(bad, "INR")


def test_format_major_and_minor_to_decimal():
    assert money.format_major(123450, "INR") == "1234.50"
    assert money.format_major(-7, "XNO") == "-0.000007"
    assert money.format_major(1234, "JPY") == "1234"
    assert money.minor_to_decimal(123450, "INR") == Decimal("1234.50")
    # Beyond Decimal's default 28-digit precision, still exact.
    assert money.minor_to_decimal(10**40 + 1, "USD") == Decimal("100000000000000000000000000000000000000.01")


# --- parse_major ------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.34", "INR", 1234),
        ("12", "INR", 1200),
        ("12.3", "INR", 1230),
        (".5", "USD", 50),
        ("0", "USD", 0),
        ("0.00", "USD", 0),
        ("1,234.56", "INR", 123456),
        ("₹1,24,884.00", "INR", 12488400),  # lakh grouping, as en-IN shows it
        ("£1,234.50", "GBP", 123450),
        ("KWD\xa01.234", "KWD", 1234),
        ("1,234,567", "USD", 123456700),
        ("₹12.50", "INR", 1250),
        ("€ 3", "EUR", 300),
        ("12.50 INR", "INR", 1250),
        ("12.50 inr", "INR", 1250),
        ("  7  ", "USD", 700),
        ("0.000001", "XNO", 1),
        ("Ӿ1.234567", "XNO", 1234567),
        ("1234", "JPY", 1234),
        ("1.234", "KWD", 1234),
        ("007.10", "USD", 710),
    ],
)
def test_parse_major(text, currency, minor):
    assert money.parse_major(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("12.345", "INR", "at most 2 decimal places"),
        ("0.0000001", "XNO", "at most 6 decimal places"),
        ("12.5", "JPY", "whole numbers"),
        ("-1", "INR", "negative"),
        ("-₹1", "INR", "negative"),
        ("", "INR", "Enter an amount"),
        ("   ", "INR", "Enter an amount"),
        ("abc", "INR", "not an amount"),
        ("1.2.3", "INR", "not an amount"),
        ("1,23", "INR", "not an amount"),
        ("12,", "INR", "not an amount"),
        ("12.", "INR", "not an amount"),
        (".", "INR", "not an amount"),
        ("+5", "INR", "not an amount"),
        ("1e3", "INR", "not an amount"),
        ("NaN", "INR", "not an amount"),
        ("Infinity", "INR", "not an amount"),
        ("0x10", "INR", "not an amount"),
        ("１２", "INR", "not an amount"),  # full-width digits
        ("١٢", "INR", "not an amount"),  # Arabic-Indic digits
        ("$12", "INR", "not an amount"),  # another currency's symbol
        ("12 USD", "INR", "not an amount"),
        ("9" * 65, "INR", "too long"),
        ("99999999999999999999999999", "INR", "at most ₹10,000,000,000.00"),
        ("10000000000.01", "INR", "at most"),
        ("1000001", "XNO", "at most"),
        ("12", "ABC", "Unknown currency"),
    ],
)
def test_parse_major_rejects(text, currency, message):
    with pytest.raises(ValueError, match=message):
        money.parse_major(text, currency)


@pytest.mark.parametrize("bad", [None, 12, 12.5])
def test_parse_major_rejects_non_text(bad):
    with pytest.raises(ValueError, match="Enter an amount"):
        money.parse_major(bad, "INR")


# --- property tests ---------------------------------------------------------

BIGINT_MAX = 2**63 - 1  # amounts are stored in BigIntegerField
amounts = st.integers(min_value=0, max_value=10**45)


@given(amount=st.integers(min_value=0, max_value=money.MAX_AMOUNT_MINOR), currency=st.sampled_from(CURRENCIES))
def test_format_then_parse_round_trips(amount, currency):
    assert money.parse_major(money.format_minor(amount, currency), currency) == amount
    assert money.parse_major(money.format_major(amount, currency), currency) == amount


@given(amount=st.integers(min_value=money.MAX_AMOUNT_MINOR + 1, max_value=BIGINT_MAX * 10**20),
       currency=st.sampled_from(CURRENCIES))
def test_parse_refuses_whatever_is_past_the_limit(amount, currency):
    with pytest.raises(ValueError, match="at most"):
        money.parse_major(money.format_major(amount, currency), currency)


@given(amount=st.integers(min_value=1, max_value=10**45), currency=st.sampled_from(CURRENCIES))
def test_negative_amounts_get_a_leading_minus(amount, currency):
    assert money.format_minor(-amount, currency) == "-" + money.format_minor(amount, currency)


@given(amount=amounts, currency=st.sampled_from(CURRENCIES))
def test_minor_to_decimal_is_exact(amount, currency):
    with localcontext(prec=200):
        assert money.minor_to_decimal(amount, currency).scaleb(money.currency_exponent(currency)) == amount


@given(raw=st.integers(min_value=0, max_value=UINT128_MAX))
def test_format_raw_xno_is_exact(raw):
    text = money.format_raw_xno(raw)
    assert text.startswith("Ӿ")
    number = text[1:].replace(",", "")
    assert not ("." in number and number.endswith("0"))  # trailing zeros trimmed
    with localcontext(prec=200):
        assert Decimal(number) * money.RAW_PER_XNO == raw
    assert money.format_raw_xno(str(raw)) == text


# --- format_raw_xno ---------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (0, "Ӿ0"),
        (10**30, "Ӿ1"),
        (1, "Ӿ0.000000000000000000000000000001"),
        (10**24, "Ӿ0.000001"),
        (1_500_000 * 10**24, "Ӿ1.5"),
        (UINT128_MAX, "Ӿ340,282,366.920938463463374607431768211455"),
        ("2000000000000000000000000000000", "Ӿ2"),
        (-(10**29), "-Ӿ0.1"),
    ],
)
def test_format_raw_xno(raw, text):
    assert money.format_raw_xno(raw) == text


@pytest.mark.parametrize("bad", ["", "1.5", "abc", "1e30", "١"])
def test_format_raw_xno_rejects_non_digits(bad):
    with pytest.raises(ValueError):
        money.format_raw_xno(bad)


# --- template filters -------------------------------------------------------

def test_money_filter():
    assert kassa.money(123450, "INR") == "₹1,234.50"
    assert kassa.money("123450", "USD") == "$1,234.50"
    assert kassa.money(None, "INR") == ""
    assert kassa.money("", "INR") == ""
    assert render("{{ a|money:c }}", a=-1234567, c="XNO") == "-Ӿ1.234567"


def test_raw_xno_filter():
    assert kassa.raw_xno("1000000000000000000000000") == "Ӿ0.000001"
    assert kassa.raw_xno(None) == ""
    assert render("{{ r|raw_xno }}", r=UINT128_MAX) == "Ӿ340,282,366.920938463463374607431768211455"


def test_localtime_in():
    moment = datetime(2026, 11, 25, 8, 35, tzinfo=UTC)
    with translation.override("en-gb"):
        assert kassa.localtime_in(moment, "Asia/Kolkata") == "25 Nov 2026, 14:05"
        assert kassa.localtime_in(moment, "UTC") == "25 Nov 2026, 08:35"
        assert kassa.localtime_in(moment, "") == "25 Nov 2026, 08:35"
        # Crosses a date boundary and uses the zone's offset on that date (EST, not EDT).
        new_year = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
        assert kassa.localtime_in(new_year, "America/New_York") == "31 Dec 2025, 22:00"
        assert kassa.localtime_in(None, "UTC") == ""


def test_localtime_in_follows_the_locale():
    moment = datetime(2026, 11, 25, 8, 35, tzinfo=UTC)
    with translation.override("en-in"):
        assert kassa.localtime_in(moment, "Asia/Kolkata") == "25 Nov 2026, 2:05\u202fPM"
    with translation.override("en"):
        assert kassa.localtime_in(moment, "Asia/Kolkata") == "Nov 25, 2026, 2:05\u202fPM"


def test_localtime_in_rejects_naive_and_unknown_zone():
    with pytest.raises(ValueError, match="naive"):
        kassa.localtime_in(datetime(2026, 11, 25, 8, 35), "UTC")
    with pytest.raises(ValueError, match="Unknown time zone"):
        kassa.localtime_in(datetime(2026, 11, 25, tzinfo=UTC), "Mars/Olympus")
    with pytest.raises(ValueError, match="Unknown time zone"):
        kassa.localtime_in(datetime(2026, 11, 25, tzinfo=UTC), "../etc/passwd")


@pytest.mark.parametrize(
    ("ratio", "places", "text"),
    [(0.1234, 1, "12.3%"), (Decimal("0.5"), 1, "50.0%"), (0, 1, "0.0%"), (1, 1, "100.0%"),
     (-0.05, 1, "-5.0%"), (0.12345, 2, "12.35%"), ("0.1", 1, "10.0%"), (0.1, 0, "10%")],
)
def test_pct(ratio, places, text):
    assert kassa.pct(ratio, places) == text


@pytest.mark.parametrize("empty", [None, "", "n/a", float("nan"), float("inf")])
def test_pct_blank_for_non_numbers(empty):
    assert kassa.pct(empty) == ""


def test_status_label_and_path_startswith():
    assert kassa.status_label("partially_refunded") == "Partially refunded"
    assert kassa.status_label("payment.completed") == "Payment completed"
    assert kassa.path_startswith("/dashboard/orders/12/", "/dashboard/orders/")
    assert not kassa.path_startswith("/dashboard/", "/dashboard/orders/")


def test_pretty_json_output_is_escaped_in_templates():
    html = render("<pre>{{ d|pretty_json }}</pre>", d={"note": "<script>alert(1)</script>"})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
