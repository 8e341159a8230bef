"""Nano refunds waiting for the seller's send (Kassa cannot send the seller's XNO).

One tick: the refunds still `awaiting_seller`, one history walk per seller address
(payments.providers.nano.NanoProvider.refund_sends), then each confirmed send above a
refund's recorded height, from its seller address to its shopper account for exactly its
raw amount, settles the oldest such refund. A send settles one refund only (the block hash
becomes the refund's unique provider id), so two equal refunds need two sends.
"""
from __future__ import annotations

import logging

from orders.actors import Actor
from payments.models import Refund
from payments.providers.nano import CODE, RefundAnchor
from payments.providers.registry import get_provider
from payments.selectors import refunds_awaiting_seller
from payments.services import refund_nano_send_record

log = logging.getLogger("kassa.monitor.nano")


def tick(*, provider=None) -> dict:
    """Raises ProviderError when the node is down (nothing changes)."""
    refunds = list(refunds_awaiting_seller())
    if not refunds:
        return {"awaiting": 0, "settled": 0}
    provider = provider or get_provider(CODE)
    sends = provider.refund_sends(RefundAnchor(r.send_from, r.send_to, r.after_height or 0) for r in refunds)
    used = set(Refund.objects.filter(provider_refund_id__in=[s.hash for s in sends])
               .values_list("provider_refund_id", flat=True))
    settled = 0
    actor = Actor.provider(CODE)
    for refund in refunds:
        for send in sends:
            if (send.hash not in used and send.send_from == refund.send_from and send.send_to == refund.send_to
                    and str(send.amount_raw) == refund.amount_raw and send.height > (refund.after_height or 0)):
                used.add(send.hash)
                refund_nano_send_record(refund=refund, block_hash=send.hash, actor=actor)
                settled += 1
                break
    summary = {"awaiting": len(refunds), "sends_seen": len(sends), "settled": settled}
    log.info("nano refund tick", extra=summary)
    return summary
