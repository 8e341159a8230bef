"""Money as integers in minor units: exponents, display and parsing.

One definition shared by models, services, forms, CSV export, templates and the admin.
Arithmetic is on integers only; display goes through Babel (CLDR) with an exact Decimal
built from the integer's digits, in a context wide enough for raw XNO's 31+ digits.
"""
import copy
import functools
import re
from decimal import Decimal, localcontext

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberPattern, get_currency_symbol, parse_pattern
from django.utils import translation

# ISO 4217 minor-unit exponents. Anything not listed here is not a currency we accept.
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_2 = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP "
    "GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD "
    "LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB "
    "PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC "
    "SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG"
)
EXPONENTS: dict[str, int] = {
    **{code: 2 for code in _EXPONENT_2.split()},
    **{code: 0 for code in _EXPONENT_0.split()},
    **{code: 3 for code in _EXPONENT_3.split()},
    # Not ISO: Nano. Our minor unit is 1 µXNO (= 10**24 raw).
    "XNO": 6,
}
SYMBOLS = {"INR": "₹", "USD": "$", "EUR": "€", "XNO": "Ӿ"}

RAW_PER_XNO = 10**30
RAW_DECIMALS = 30

# Digits with optional well-formed thousands (or en-IN lakh) commas and an optional fraction.
# [0-9], not \d: \d also matches non-ASCII digits such as "١٢".
_AMOUNT_RE = re.compile(
    r"(?P<int>[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3})?(?:\.(?P<frac>[0-9]+))?")
_MAX_INPUT_LENGTH = 64  # longer input is a typo or an attack, never a price
# The largest amount (an order, a price, a refund) we accept, in minor units: far above any real
# order, far below the PositiveBigIntegerField columns' 2**63 - 1, so totals and sums never overflow.
MAX_AMOUNT_MINOR = 10**12


def _code(currency: str) -> str:
    code = (currency or "").strip().upper()
    if code not in EXPONENTS:
        raise ValueError(f"Unknown currency “{currency}”.")
    return code


def is_supported_currency(code: str) -> bool:
    return isinstance(code, str) and code in EXPONENTS


def currency_exponent(code: str) -> int:
    """Decimal places of the minor unit: INR 2, JPY 0, KWD 3, XNO 6."""
    return EXPONENTS[_code(code)]


def _split(amount: int, exponent: int) -> tuple[str, int, str]:
    """(sign, whole units, zero-padded fraction digits) of an integer amount."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"Amounts are integers in minor units, got {type(amount).__name__}.")
    whole, frac = divmod(abs(amount), 10**exponent)
    return ("-" if amount < 0 else ""), whole, str(frac).zfill(exponent) if exponent else ""


def format_major(amount_minor: int, currency: str) -> str:
    """Plain decimal text without symbol or grouping ("1234.50"), the inverse of parse_major.

    For CSV cells and form initial values.
    """
    sign, whole, frac = _split(amount_minor, currency_exponent(currency))
    return f"{sign}{whole}.{frac}" if frac else f"{sign}{whole}"


def format_minor(amount_minor: int, currency: str, *, locale: str | None = None) -> str:
    """Display text in the locale's notation: "₹1,234.50", "$0.05", "-€3.00", "Ӿ1.234567", "¥1,234";
    en-IN groups in lakhs ("₹1,24,884.00"). `locale` defaults to the active language (see active_locale).
    """
    code = _code(currency)
    exponent = EXPONENTS[code]
    sign, whole, frac = _split(amount_minor, exponent)
    return _apply(f"{sign}{whole}.{frac or 0}", code, (exponent, exponent), locale)


def active_locale() -> str:
    """The active Django language as a Babel locale name ("en-in" → "en_IN"); "en" outside a request."""
    language = translation.get_language() or "en"
    return translation.to_locale(language)


def babel_locale(locale: str | None = None) -> Locale:
    """The Babel Locale for a name ("en-IN"), or for the active language; unknown names fall back to English."""
    return _locale(locale or active_locale())


@functools.lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


@functools.lru_cache(maxsize=256)
def _pattern(locale: Locale, code: str, frac_prec: tuple[int, int]) -> NumberPattern:
    """The locale's currency pattern with our own decimals (XNO has 6; CLDR knows no XNO) and symbol."""
    pattern = copy.copy(parse_pattern(locale.currency_formats["standard"]))
    pattern.frac_prec = frac_prec
    symbol = SYMBOLS["XNO"] if code == "XNO" else get_currency_symbol(code, locale)
    # A letter symbol touching the digits ("KWD1.234") needs a space, as CLDR's currency spacing says.
    spaced = symbol + "\xa0" if symbol[-1:].isascii() and symbol[-1:].isalpha() else symbol
    pattern.prefix = tuple(part.replace("¤", spaced) for part in pattern.prefix)
    pattern.suffix = tuple(part.replace("¤", symbol) for part in pattern.suffix)
    return pattern


def _apply(digits: str, code: str, frac_prec: tuple[int, int], locale: str | None) -> str:
    value = Decimal(digits)  # exact: built from text, never from a float
    chosen = babel_locale(locale)
    with localcontext() as context:
        context.prec = len(digits) + 8  # Babel quantizes; the default 28 digits would round raw XNO
        return _pattern(chosen, code, frac_prec).apply(value, chosen, currency=code, currency_digits=False)


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Exact Decimal in major units (built from text, so no context rounding)."""
    return Decimal(format_major(amount_minor, currency))


def parse_major(text: str, currency: str) -> int:
    """Parse what a person typed ("12.34", "1,234.5", "₹12", "12 INR") into minor units, exactly.

    Raises ValueError, with a message fit to show the user, on garbage, a negative
    amount, or more decimal places than the currency has.
    """
    code = _code(currency)
    exponent = EXPONENTS[code]
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Enter an amount.")
    cleaned = text.strip()
    if len(cleaned) > _MAX_INPUT_LENGTH:
        raise ValueError("That amount is too long.")
    if cleaned.startswith("-"):
        raise ValueError("The amount cannot be negative.")
    # Whatever format_minor shows is accepted back: our symbol, Babel's English one, or the code.
    for symbol in (SYMBOLS.get(code), get_currency_symbol(code, "en"), code):
        if symbol and cleaned.upper().startswith(symbol.upper()):
            cleaned = cleaned[len(symbol):].lstrip()
            break
    if cleaned.upper().endswith(code):
        cleaned = cleaned[: -len(code)].rstrip()
    match = _AMOUNT_RE.fullmatch(cleaned)
    if not cleaned or not match or (match["int"] is None and match["frac"] is None):
        raise ValueError(f"“{text.strip()}” is not an amount. Use digits and an optional decimal point, e.g. 12.34.")
    frac = match["frac"] or ""
    if len(frac) > exponent:
        if exponent == 0:
            raise ValueError(f"{code} amounts are whole numbers; remove the decimal places.")
        raise ValueError(f"{code} amounts have at most {exponent} decimal places.")
    whole = int((match["int"] or "0").replace(",", ""))
    amount = whole * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    if amount > MAX_AMOUNT_MINOR:
        raise ValueError(f"The amount must be at most {format_minor(MAX_AMOUNT_MINOR, code)}.")
    return amount


def format_raw_xno(raw: int | str, *, locale: str | None = None) -> str:
    """Raw Nano (1 XNO = 10**30 raw) as "Ӿ1.000000000000000000000000000001", trailing zeros trimmed.

    Accepts the digit strings we store for received amounts.
    """
    if isinstance(raw, str):
        text = raw.strip()
        if not re.fullmatch(r"-?[0-9]+", text):
            raise ValueError(f"“{raw}” is not a raw amount (digits only).")
        raw = int(text)
    sign, whole, frac = _split(raw, RAW_DECIMALS)
    return _apply(f"{sign}{whole}.{frac}", "XNO", (0, RAW_DECIMALS), locale)
