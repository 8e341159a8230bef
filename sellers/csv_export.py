"""CSV export of a filtered order or payment list, streamed so a million rows never sit in memory.

Rows come from `.values_list().iterator(chunk_size=2000)` (a server-side cursor on
Postgres) and are written one line at a time through StreamingHttpResponse.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from sellers.money import format_major

COLUMNS = ("order_id", "created_at", "reference", "status", "currency", "amount", "refunded", "fee", "net",
           "customer_email", "paid_at", "method", "tx_id")
PAYMENT_COLUMNS = ("payment_id", "created_at", "order_id", "reference", "method", "status", "currency", "amount",
                   "refunded", "fee", "net", "completed_at", "tx_id")
CHUNK_SIZE = 2000
# Spreadsheet apps run cells starting with these as formulas (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_safe(text: str) -> str:
    return "'" + text if text and text.startswith(_FORMULA_START) else text


def _iso_local(value, tz) -> str:
    return value.astimezone(tz).isoformat(timespec="seconds") if value else ""


def order_rows(queryset, tz) -> Iterator[list[str]]:
    """Rows of an orders_for_list queryset annotated by with_order_money."""
    fields = ("pk", "created_at", "reference", "status", "currency", "amount", "refunded_total", "fee_total",
              "net_total", "customer_email", "paid_at", "last_method", "last_tx_id")
    for pk, created, reference, status, currency, amount, refunded, fee, net, email, paid_at, method, tx_id in (
            queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE)):
        yield [str(pk), _iso_local(created, tz), csv_safe(reference), status, currency, format_major(amount, currency),
               format_major(refunded, currency), format_major(fee, currency), format_major(net, currency),
               csv_safe(email), _iso_local(paid_at, tz), method or "", csv_safe(tx_id or "")]


def payment_rows(queryset, tz) -> Iterator[list[str]]:
    """Rows of a payments_for_list queryset annotated by with_payment_money."""
    fields = ("pk", "created_at", "order_id", "order__reference", "method", "status", "currency", "amount",
              "refunded_amount", "fee_total", "net_total", "completed_at", "tx_id")
    for pk, created, order_id, reference, method, status, currency, amount, refunded, fee, net, completed, tx_id in (
            queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE)):
        yield [str(pk), _iso_local(created, tz), str(order_id), csv_safe(reference or ""), method, status, currency,
               format_major(amount, currency), format_major(refunded, currency), format_major(fee, currency),
               format_major(net, currency), _iso_local(completed, tz), csv_safe(tx_id or "")]


def stream_csv(rows: Iterator[list[str]], header, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _stamp(seller) -> str:
    return timezone.now().astimezone(seller.tz).strftime("%Y%m%d-%H%M")


def orders_csv_response(queryset, seller) -> StreamingHttpResponse:
    return stream_csv(order_rows(queryset, seller.tz), COLUMNS, f"orders-{seller.slug}-{_stamp(seller)}.csv")


def payments_csv_response(queryset, seller) -> StreamingHttpResponse:
    return stream_csv(payment_rows(queryset, seller.tz), PAYMENT_COLUMNS,
                      f"payments-{seller.slug}-{_stamp(seller)}.csv")
