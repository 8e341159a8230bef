"""Every kind of email Kassa sends, and which of them a seller can turn off."""
from django.db import models


class Kind(models.TextChoices):
    # shoppers
    RECEIPT = "receipt", "Shopper: receipt"
    REFUND_SUCCEEDED = "refund_succeeded", "Shopper: refund succeeded"
    REFUND_AWAITING_SELLER = "refund_awaiting_seller", "Shopper: Nano refund awaiting the seller"
    PAID_LATE = "paid_late", "Shopper: late money under review"
    # sellers
    ORDER_PAID = "order_paid", "Seller: order paid"
    ORDER_PAID_DIGEST = "order_paid_digest", "Seller: daily digest of paid orders"
    MONEY_ATTENTION = "money_attention", "Seller: money needs attention"
    REFUND_REQUEST = "refund_request", "Seller: partner refund request"
    WEBHOOK_DISABLED = "webhook_disabled", "Seller: webhook endpoint disabled"
    SETTLEMENT_FAILED = "settlement_failed", "Seller: settlement failed"
    WEEKLY_REPORT = "weekly_report", "Seller: weekly report"
    # staff
    REVIEW_DIGEST = "review_digest", "Staff: review queue digest"


# The seller notices a seller switches on or off on /dashboard/settings/ (the digest follows order_paid).
SELLER_KINDS = (Kind.ORDER_PAID, Kind.MONEY_ATTENTION, Kind.REFUND_REQUEST, Kind.WEBHOOK_DISABLED,
                Kind.SETTLEMENT_FAILED, Kind.WEEKLY_REPORT)
