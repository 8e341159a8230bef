"""Where the XNO price of a fiat currency comes from, for fiat-priced Nano payments.

A rate is "µXNO per major unit of fiat" as an exact Decimal (never a float). The
payment locks it at start; this module only answers "what is
it now". Chosen by settings.NANO_RATE_SOURCE:

- ``fixed``: settings.NANO_FIXED_RATES, for the sandbox and tests;
- ``http``:  a JSON price API (CoinGecko's ``simple/price`` shape by default),
  fetched with a timeout and cached for NANO_RATE_TTL_SECONDS.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol

import requests
from django.conf import settings

from config import json_input
from payments.providers.errors import ProviderNotConfigured, ProviderUnavailable

MICRO_PER_XNO = Decimal(10**6)
DEFAULT_HTTP_URL = "https://api.coingecko.com/api/v3/simple/price?ids=nano&vs_currencies={currency}"


@dataclass(frozen=True)
class Rate:
    currency: str                   # ISO code of the fiat side
    micro_xno_per_major: Decimal    # e.g. 1 USD buys 1_000_000 µXNO
    source: str                     # short label stored on the payment ("fixed", "http:api.coingecko.com")


class RateSource(Protocol):
    def supports(self, currency: str) -> bool: ...

    def rate(self, currency: str) -> Rate: ...


def _positive_decimal(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ProviderNotConfigured(f"{what}: not a number ({value!r})") from None
    if not number.is_finite() or number <= 0:
        raise ProviderNotConfigured(f"{what}: must be a positive number ({value!r})")
    return number


class FixedRateSource:
    """Rates from settings (strings, so exact): {"USD": "1000000", ...}."""

    label = "fixed"

    def __init__(self, rates: dict[str, str] | None = None) -> None:
        raw = settings.NANO_FIXED_RATES if rates is None else rates
        self.rates = {code.upper(): _positive_decimal(value, f"NANO_FIXED_RATES[{code}]")
                      for code, value in raw.items()}

    def supports(self, currency: str) -> bool:
        return currency.upper() in self.rates

    def rate(self, currency: str) -> Rate:
        code = currency.upper()
        if code not in self.rates:
            raise ProviderNotConfigured(f"no fixed XNO rate for {code}", provider="nano")
        return Rate(code, self.rates[code], self.label)


class HttpRateSource:
    """A JSON price API giving fiat per 1 XNO: ``{"nano": {"usd": 0.87}}`` (CoinGecko).

    The URL template gets ``{currency}`` in lower case. Prices are parsed as Decimal
    straight from the JSON text. Answers are cached per currency for ``ttl`` seconds.
    """

    def __init__(self, url: str | None = None, *, ttl: float | None = None, timeout: float = 5,
                 session: requests.Session | None = None) -> None:
        self.url = url or getattr(settings, "NANO_RATE_URL", "") or DEFAULT_HTTP_URL
        self.ttl = getattr(settings, "NANO_RATE_TTL_SECONDS", 60) if ttl is None else ttl
        self.timeout = timeout
        self.session = session or requests.Session()
        self._cache: dict[str, tuple[float, Rate]] = {}
        self._lock = threading.Lock()
        host = requests.utils.urlparse(self.url).hostname or "http"
        self.label = f"http:{host}"[:40]

    def supports(self, currency: str) -> bool:
        return len(currency) == 3 and currency.upper() != "XNO"  # the API decides; no call here

    def rate(self, currency: str) -> Rate:
        code = currency.upper()
        with self._lock:
            cached = self._cache.get(code)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        price = self._fetch_price(code)
        rate = Rate(code, (MICRO_PER_XNO / price), self.label)
        with self._lock:
            self._cache[code] = (time.monotonic(), rate)
        return rate

    def _fetch_price(self, code: str) -> Decimal:
        url = self.url.format(currency=code.lower())
        try:
            response = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"rate source: {type(exc).__name__}", provider="nano") from exc
        if response.status_code != 200:
            raise ProviderUnavailable(f"rate source: HTTP {response.status_code}", provider="nano",
                                      status=response.status_code)
        try:
            data = json_input.loads(response.text, parse_float=Decimal, parse_int=Decimal)
            price = data["nano"][code.lower()]
        except (ValueError, KeyError, TypeError):
            raise ProviderUnavailable(f"rate source: no nano/{code.lower()} price in the answer",
                                      provider="nano") from None
        if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
            raise ProviderUnavailable(f"rate source: unusable price {price!r}", provider="nano")
        return price


SOURCES = {"fixed": FixedRateSource, "http": HttpRateSource}


def rate_source_from_settings() -> RateSource:
    name = settings.NANO_RATE_SOURCE
    if name not in SOURCES:
        raise ProviderNotConfigured(f"NANO_RATE_SOURCE={name!r}; use one of {', '.join(SOURCES)}", provider="nano")
    return SOURCES[name]()
