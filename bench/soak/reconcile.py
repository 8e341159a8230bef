"""Reconciliation at the end of a soak: Kassa's database against the sandbox's own books.

`judge(facts)` holds the rules and works on plain data (tested on hand-made facts in
tests/bench/test_soak_rules.py); `gather(...)` reads the facts from Kassa's database (Django must be
set up) and the sandbox.
"""
from __future__ import annotations

from collections import Counter

PAID = ("completed",)
REFUNDED = ("partially_refunded", "refunded")
# Faults whose documented answer is a 503 with Retry-After or a message, not a crash: the Nano node down
# ("I've paid" answers 503), the gateways failing (a payment cannot start now), PostgreSQL backends
# terminated (a request whose connection died midway), Redis restarting.
DOCUMENTED_503_FAULTS = (3, 4, 5, 6)


def classify(receipt: dict | None) -> str:
    """What became of one payment the sandbox made: completed, flagged (waiting for review), refunded, lost,
    or duplicate_not_refunded (a second payment of a paid order, its review closed with money kept)."""
    if receipt is None:
        return "lost"
    if receipt["payment"] is None or receipt["review_status"] == "open":
        return "flagged"  # unmatched receipt, or paid late / duplicate / overpaid / underpaid, still in the queue
    status = receipt["payment_status"]
    if "duplicate" in receipt["exceptions"] and status != "refunded":
        return "duplicate_not_refunded"  # the order was paid by its other payment: this one must go back in full
    if status in REFUNDED:
        return "refunded"
    if status in PAID:
        return "completed"  # including late money staff accepted
    if receipt["refunded_amount"]:
        return "refunded"  # late money staff sent back: the payment stays expired
    return "lost"  # money the sandbox moved that left its payment pending, expired or failed without a flag


def classify_server_errors(errors: list[dict], windows: list[dict]) -> Counter:
    """Each 5xx the load saw: in the web-kill window, a documented 503 during its fault, or unexplained."""
    kinds: Counter = Counter()
    for error in errors:
        at = error["t"]
        inside = [w for w in windows if w["start_s"] <= at <= w["end_s"] + 5]
        if any(w["number"] == 2 for w in inside):
            kinds["web_kill_window"] += 1
        elif error["status"] == 503 and any(w["number"] in DOCUMENTED_503_FAULTS for w in inside):
            kinds["documented_503_during_fault"] += 1
        else:
            kinds["unexplained"] += 1
    return kinds


def judge(facts: dict) -> dict:
    """Every check with its figures, and whether the run reconciled."""
    outcomes = Counter()
    lost, kept = [], []
    for payment in facts["sandbox_payments"]:
        outcome = classify(facts["receipts"].get((payment["provider"], payment["external_tx_id"].upper())))
        outcomes[outcome] += 1
        if outcome == "lost":
            lost.append(payment)
        elif outcome == "duplicate_not_refunded":
            kept.append(payment)
    ledger = {currency: {**sums, "balanced": sums["gross"] == sums["fee"] + sums["net"]}
              for currency, sums in sorted(facts["ledger"].items())}
    twice = {payment: count for payment, count in facts["completions"].items() if count > 1}
    undelivered = sorted(set(facts["webhook_messages"]) - set(facts["webhooks_verified"]))
    stuck = {name: count for name, count in facts["stuck"].items() if count}
    server_errors = classify_server_errors(facts["server_errors"], facts["windows"])
    movements = {name: {"sandbox": facts["sandbox_counts"].get(name, 0), "kassa": facts["kassa_counts"].get(name, 0)}
                 for name in sorted(set(facts["sandbox_counts"]) | set(facts["kassa_counts"]))}
    checks = {
        "every_sandbox_payment_accounted_for": {"ok": not lost and not kept, "outcomes": dict(outcomes),
                                                "lost": lost[:20], "duplicates_not_refunded": kept[:20]},
        "movements_match_sandbox": {"ok": all(v["sandbox"] == v["kassa"] for v in movements.values()),
                                    "counts": movements},
        "ledger_balanced": {"ok": all(v["balanced"] for v in ledger.values()), "per_currency": ledger},
        "no_payment_completed_twice": {"ok": not twice, "payments": twice},
        "no_nano_slot_held_twice": {"ok": not facts["slots_held_twice"], "slots": facts["slots_held_twice"]},
        "webhooks_delivered_and_verified": {"ok": not undelivered and not facts["webhooks_invalid"],
                                            "events": len(facts["webhook_messages"]),
                                            "undelivered": len(undelivered), "invalid_signatures":
                                            facts["webhooks_invalid"], "examples": undelivered[:10]},
        "nothing_stuck": {"ok": not stuck, "stuck": stuck},
        "no_unexplained_5xx": {"ok": not server_errors["unexplained"], **{k: server_errors[k] for k in
                               ("web_kill_window", "documented_503_during_fault", "unexplained")}},
    }
    return {"reconciled": all(check["ok"] for check in checks.values()), "checks": checks}


# --- reading the facts ---------------------------------------------------------------------------

def sandbox_payments(books: dict, nano_sends: list[dict]) -> list[dict]:
    payments = [{"provider": "razorpay", "external_tx_id": p["id"]}
                for p in books.get("razorpay", {}).get("payments", [])]
    payments += [{"provider": "coinpay", "external_tx_id": p["transactionId"]}
                 for p in books.get("coinpay", {}).get("payments", [])]
    return payments + [{"provider": "nano", "external_tx_id": send["hash"]} for send in nano_sends]


def inbound_webhooks_waiting() -> int:
    """Valid inbound webhooks Kassa will still process: received, or failed with a retry due (a database
    cut under it, fault 5). A failed row with no retry left waits for staff, in the review queue."""
    from django.db.models import Q

    from payments.models import InboundWebhook

    return InboundWebhook.objects.filter(Q(status="received") | Q(status="failed", retry_at__isnull=False),
                                         signature_valid=True).count()


def gather(*, since, books: dict, nano_sends: list[dict], nano_refund_sends: int, receiver, queue_sizes: dict,
           server_errors: list[dict], windows: list[dict], endpoint_ids: list[int]) -> dict:
    from django.db.models import Count, Q, Sum

    from payments.models import LedgerEntry, Payment, Receipt, Refund, Settlement
    from webhooks.models import WebhookDelivery

    receipts = {(r.provider, r.external_tx_id.upper()): {
        "payment": r.payment_id, "payment_status": r.payment.status if r.payment else None,
        "exceptions": r.payment.exceptions if r.payment else [],
        "review_status": r.payment.review_status if r.payment else "",
        "refunded_amount": r.payment.refunded_amount if r.payment else 0}
        for r in Receipt.objects.select_related("payment")}
    ledger = {row["currency"]: {"gross": row["gross"], "fee": row["fee"], "net": row["net"]}
              for row in LedgerEntry.objects.values("currency").annotate(gross=Sum("gross"), fee=Sum("fee"),
                                                                         net=Sum("net"))}
    completions = dict(LedgerEntry.objects.filter(kind="payment").values_list("payment").annotate(n=Count("id"))
                       .filter(n__gt=1).values_list("payment", "n"))
    slots = list(Payment.objects.filter(amount_reserved=True).values("pay_to", "amount_due").annotate(n=Count("id"))
                 .filter(n__gt=1).values("pay_to", "amount_due", "n"))
    # Only what the soak did: the seeded sellers start with no history, but be exact anyway.
    succeeded = Refund.objects.filter(status="succeeded", created_at__gte=since)
    settled = Settlement.objects.filter(status__in=("paid", "reversed"), created_at__gte=since)
    transfers = settled.filter(kind="transfer")
    kassa_counts = {"razorpay_refunds": succeeded.filter(payment__method="razorpay").count(),
                    "coinpay_refunds": succeeded.filter(payment__method="coinpay").count(),
                    "nano_refunds": succeeded.filter(payment__method="nano").count(),
                    "razorpay_transfers": transfers.filter(amount__gt=0).count(),
                    "razorpay_reversals": transfers.filter(amount__lt=0).count(),
                    "coinpay_payouts": settled.filter(kind="payout").count()}
    rzp, cp = books.get("razorpay", {}), books.get("coinpay", {})
    sandbox_counts = {"razorpay_refunds": sum(1 for r in rzp.get("refunds", []) if r.get("status") == "processed"),
                      "coinpay_refunds": sum(1 for r in cp.get("refunds", []) if r.get("status") == "Completed"),
                      "nano_refunds": nano_refund_sends,
                      "razorpay_transfers": sum(1 for t in rzp.get("transfers", []) if t.get("status") == "processed"),
                      "razorpay_reversals": len(rzp.get("reversals", [])),
                      "coinpay_payouts": sum(1 for p in cp.get("payouts", []) if p.get("status") == "Completed")}
    deliveries = WebhookDelivery.objects.filter(endpoint_id__in=endpoint_ids)
    stuck = {
        **{f"queue_{name}": size for name, size in queue_sizes.items()},
        "inbound_webhooks_unprocessed": inbound_webhooks_waiting(),
        "webhook_deliveries_pending": deliveries.filter(status__in=("pending", "failed")).count(),
        "payments_active_past_expiry": Payment.objects.filter(status__in=Payment.ACTIVE_STATUSES)
        .filter(Q(expires_at__lt=_now_minus(120))).count(),
        "gateway_refunds_pending": Refund.objects.filter(status="pending").count(),
        # The soak's seller wallets send every Nano refund asked for (a refunded duplicate among them): wait
        # for Kassa to see the send, or a duplicate would be judged kept.
        "refunds_awaiting_seller": Refund.objects.filter(status="awaiting_seller").count(),
        # A Nano fee receivable stays pending until the seller pays the platform: not a movement in doubt.
        "settlements_in_doubt": Settlement.objects.filter(status__in=("pending", "in_flight"))
        .exclude(kind="fee_receivable").count(),
    }
    return {"sandbox_payments": sandbox_payments(books, nano_sends), "receipts": receipts, "ledger": ledger,
            "completions": completions, "slots_held_twice": slots, "sandbox_counts": sandbox_counts,
            "kassa_counts": kassa_counts, "webhook_messages": list(deliveries.values_list("message_id", flat=True)),
            "webhooks_verified": receiver.verified, "webhooks_invalid": receiver.invalid, "stuck": stuck,
            "server_errors": server_errors, "windows": windows}


def _now_minus(seconds: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() - timedelta(seconds=seconds)
