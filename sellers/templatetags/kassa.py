"""Display filters for Kassa templates: `{% load kassa %}`.

Filters format only; they never round money through floats. Empty values
(None, "") render as "" so optional fields need no `{% if %}` around them.
"""
import json
import zoneinfo
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.dates import format_date, format_time
from django import template

from sellers import money as money_lib

register = template.Library()


def _is_empty(value) -> bool:
    return value is None or value == ""


@register.filter
def money(amount_minor, currency):
    """{{ order.amount|money:order.currency }} → "₹1,234.50". Digit strings are accepted."""
    if _is_empty(amount_minor):
        return ""
    if isinstance(amount_minor, str):
        amount_minor = int(amount_minor.strip())
    return money_lib.format_minor(amount_minor, currency)


@register.filter
def raw_xno(raw):
    """{{ payment.amount_received_raw|raw_xno }} → "Ӿ0.000001" (exact, zeros trimmed)."""
    if _is_empty(raw):
        return ""
    return money_lib.format_raw_xno(raw)


@register.filter
def localtime_in(value, tzname):
    """{{ order.created_at|localtime_in:seller.timezone }} → "25 Nov 2026, 14:05" (en-GB),
    "Nov 25, 2026, 2:05 PM" (en): the active locale's medium date and short time, through Babel.

    An empty tzname means UTC. A naive datetime is a bug (USE_TZ=True), so it raises.
    """
    if _is_empty(value):
        return ""
    if not isinstance(value, datetime):
        raise TypeError(f"localtime_in needs a datetime, got {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("localtime_in got a naive datetime; Kassa stores aware datetimes only.")
    try:
        zone = zoneinfo.ZoneInfo(tzname) if tzname else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone “{tzname}”.") from None
    local = value.astimezone(zone)
    locale = money_lib.babel_locale()
    # CLDR's own way of joining a date and a time ("{1}, {0}"); {1} is the date.
    joined = str(locale.datetime_formats["medium"])
    return joined.replace("{1}", format_date(local, "medium", locale=locale)).replace(
        "{0}", format_time(local, "short", locale=locale))


@register.filter
def localtime_zone(value, tzname):
    """localtime_in plus the zone's abbreviation, for pages read by people in other zones (shoppers):
    "25 Nov 2026, 14:05 IST"; a zone without a letter abbreviation shows its offset ("UTC+04")."""
    text = localtime_in(value, tzname)
    if not text:
        return ""
    abbreviation = value.astimezone(zoneinfo.ZoneInfo(tzname) if tzname else UTC).tzname() or "UTC"
    return f"{text} {'UTC' + abbreviation if abbreviation[0] in '+-' else abbreviation}"


@register.filter
def pct(ratio, places=1):
    """{{ 0.1234|pct }} → "12.3%"; {{ ratio|pct:2 }} → "12.34%". Display only."""
    if _is_empty(ratio):
        return ""
    try:
        # str() first: Decimal(float) would expose binary noise (0.1 → 0.1000000000000000055…).
        value = Decimal(str(ratio)) * 100
    except InvalidOperation:
        return ""
    if not value.is_finite():
        return ""
    # Half-up, as people round by hand (Decimal's default half-even shows 12.345 as 12.34).
    rounded = value.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
    return f"{rounded:f}%"


@register.filter
def status_label(status):
    """"partially_refunded" → "Partially refunded"; "payment.completed" → "Payment completed"."""
    if _is_empty(status):
        return ""
    return str(status).replace("_", " ").replace(".", " ").capitalize()


@register.filter
def path_startswith(path, prefix):
    """For nav highlighting: {% if request.path|path_startswith:"/dashboard/orders/" %}."""
    return isinstance(path, str) and path.startswith(str(prefix))


@register.filter
def pretty_json(value):
    """Event data as indented JSON for <pre>; returned unsafe, so autoescape still applies."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
