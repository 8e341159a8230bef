"""The soak's own rules, on hand-made data: the fault-window plan and the reconciliation verdict
(no soak runs here; `make soak` does that)."""
import pytest

from bench.soak.faults import LENGTHS, NAMES, parse_selection, plan
from bench.soak.reconcile import classify, classify_server_errors, judge


def test_the_seven_windows_follow_one_another_after_a_warmup_and_leave_a_tail():
    windows = plan(300, list(NAMES))
    assert [w.number for w in windows] == [1, 2, 3, 4, 5, 6, 7]
    assert windows[0].start == 30
    for before, after in zip(windows, windows[1:]):
        assert before.start + before.length <= after.start
    assert windows[-1].start + windows[-1].length <= 300 * 0.9 + 0.1


def test_a_five_minute_run_has_the_60_s_outages_and_shorter_runs_shrink_every_window():
    full = {w.number: w.length for w in plan(300, list(NAMES))}
    assert full[3] == full[4] == 60 and full[1] >= 20  # the worker is down 10 s and watched coming back
    short = plan(60, [1, 3, 5])
    assert [w.number for w in short] == [1, 3, 5]
    assert all(w.length < LENGTHS[w.number] for w in short)
    assert short[-1].start + short[-1].length <= 54.1
    assert [w.start for w in plan(1000, [2])] == [100]


def test_fault_selection_parses_and_refuses_unknown_numbers():
    assert parse_selection("") == [1, 2, 3, 4, 5, 6, 7]
    assert parse_selection("5, 1,3") == [1, 3, 5]
    with pytest.raises(ValueError):
        plan(60, [8])


def receipt(payment="p1", status="completed", exceptions=(), review=None, refunded=0):
    """A flagged payment's review is open unless a test says otherwise (that is what flagging does)."""
    return {"payment": payment, "payment_status": status, "exceptions": list(exceptions),
            "review_status": ("open" if exceptions else "") if review is None else review, "refunded_amount": refunded}


def test_each_sandbox_payment_is_completed_flagged_refunded_or_lost():
    assert classify(receipt()) == "completed"
    assert classify(receipt(status="partially_refunded")) == "refunded"
    assert classify(receipt(status="expired", exceptions=["paid_late"])) == "flagged"
    assert classify(receipt(payment=None, status=None)) == "flagged"  # unmatched: in the review queue
    assert classify(receipt(status="pending")) == "lost"  # the sandbox took money, Kassa did not move
    assert classify(None) == "lost"  # Kassa never recorded it


def test_a_decided_review_counts_by_where_the_money_went():
    # staff accepted the late money: a sale like any other
    assert classify(receipt(status="completed", exceptions=["paid_late"], review="resolved")) == "completed"
    # staff sent the late money back: the payment stays expired, its refund is what happened
    assert classify(receipt(status="expired", exceptions=["paid_late"], review="resolved", refunded=4999)) == "refunded"
    assert classify(receipt(status="expired", exceptions=["paid_late"], review="resolved")) == "lost"


def test_a_duplicate_payment_is_refunded_in_full_or_still_waits_for_a_human():
    assert classify(receipt(exceptions=["duplicate"])) == "flagged"
    refunded = receipt(status="refunded", exceptions=["duplicate"], review="resolved", refunded=4999)
    assert classify(refunded) == "refunded"
    # closed with the shopper's second payment (or part of it) kept: the order was paid by the other one
    assert classify(receipt(exceptions=["duplicate"], review="resolved")) == "duplicate_not_refunded"
    assert classify(receipt(status="partially_refunded", exceptions=["duplicate"], review="resolved",
                            refunded=1000)) == "duplicate_not_refunded"


def test_a_duplicate_kept_without_review_fails_the_run():
    kept = receipt(exceptions=["duplicate"], review="resolved")
    verdict = judge(facts(receipts={("razorpay", "PAY_1"): kept, ("nano", "AB12"): receipt("p2", "refunded")}))
    check = verdict["checks"]["every_sandbox_payment_accounted_for"]
    assert not verdict["reconciled"] and not check["ok"]
    assert check["outcomes"] == {"duplicate_not_refunded": 1, "refunded": 1}
    assert check["duplicates_not_refunded"] == [{"provider": "razorpay", "external_tx_id": "pay_1"}]


def test_5xx_in_the_web_kill_window_and_documented_503s_are_counted_apart():
    windows = [{"number": 2, "start_s": 10, "end_s": 20}, {"number": 3, "start_s": 30, "end_s": 40}]
    kinds = classify_server_errors([{"t": 12, "status": 502}, {"t": 24, "status": 500},  # 5 s grace after the kill
                                    {"t": 35, "status": 503}, {"t": 35, "status": 500}, {"t": 50, "status": 503}],
                                   windows)
    assert kinds == {"web_kill_window": 2, "documented_503_during_fault": 1, "unexplained": 2}


def facts(**overrides):
    base = {
        "sandbox_payments": [{"provider": "razorpay", "external_tx_id": "pay_1"},
                             {"provider": "nano", "external_tx_id": "ab12"}],
        "receipts": {("razorpay", "PAY_1"): receipt(), ("nano", "AB12"): receipt("p2", "refunded")},
        "ledger": {"INR": {"gross": 1000, "fee": 25, "net": 975}},
        "completions": {}, "slots_held_twice": [],
        "sandbox_counts": {"razorpay_refunds": 1}, "kassa_counts": {"razorpay_refunds": 1},
        "webhook_messages": ["m1", "m2"], "webhooks_verified": {"m1", "m2"}, "webhooks_invalid": 0,
        "stuck": {"queue_celery": 0}, "server_errors": [], "windows": [],
    }
    return {**base, **overrides}


def test_a_clean_run_reconciles():
    verdict = judge(facts())
    assert verdict["reconciled"], verdict
    assert verdict["checks"]["every_sandbox_payment_accounted_for"]["outcomes"] == {"completed": 1, "refunded": 1}


@pytest.mark.parametrize("broken, check", [
    ({"receipts": {}}, "every_sandbox_payment_accounted_for"),
    ({"kassa_counts": {"razorpay_refunds": 2}}, "movements_match_sandbox"),
    ({"ledger": {"INR": {"gross": 1000, "fee": 25, "net": 974}}}, "ledger_balanced"),
    ({"completions": {"p1": 2}}, "no_payment_completed_twice"),
    ({"slots_held_twice": [{"pay_to": "nano_1", "amount_due": 5, "n": 2}]}, "no_nano_slot_held_twice"),
    ({"webhooks_verified": {"m1"}}, "webhooks_delivered_and_verified"),
    ({"webhooks_invalid": 1}, "webhooks_delivered_and_verified"),
    ({"stuck": {"queue_celery": 3}}, "nothing_stuck"),
    ({"stuck": {"refunds_awaiting_seller": 1}}, "nothing_stuck"),
    ({"server_errors": [{"t": 5, "status": 500}]}, "no_unexplained_5xx"),
])
def test_any_loss_or_unexplained_5xx_fails_the_run(broken, check):
    verdict = judge(facts(**broken))
    assert not verdict["reconciled"]
    assert [name for name, result in verdict["checks"].items() if not result["ok"]] == [check]


@pytest.mark.django_db
def test_an_inbound_webhook_waiting_for_its_retry_keeps_the_soak_settling():
    """A CI soak once stopped 3 s before a webhook's retry: fault 5 had cut the database under it, so it
    was `failed` with a retry due, and the settle check counted only `received` rows. Kassa would have
    applied it; the run reported the payment lost. A row waits while it is received or has a retry due."""
    from django.utils import timezone

    from bench.soak.reconcile import inbound_webhooks_waiting
    from payments.models import InboundWebhook

    def row(n, **fields):
        return InboundWebhook.objects.create(provider="coinpay", event_id=f"e{n}", body="{}", **fields)

    row(1, status="received", signature_valid=True)
    row(2, status="failed", signature_valid=True, attempts=1, retry_at=timezone.now())
    row(3, status="failed", signature_valid=True, attempts=5)  # left for staff: the review queue has it
    row(4, status="received", signature_valid=False)  # never processed: a forged signature
    row(5, status="processed", signature_valid=True)
    assert inbound_webhooks_waiting() == 2
