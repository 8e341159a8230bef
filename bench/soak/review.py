"""What the soak's staff user reads on the review queue (/admin/review/).

Kept apart from load.py, which imports locust (and so patches the standard library with gevent), so the
pattern can be tested against the page Kassa really renders (tests/bench/test_soak_staff_forms.py).
"""
from __future__ import annotations

import re

# A money action's form on the queue (templates/admin/kassa/review.html): the payment's pk, then its button.
# The soak's staff accept late money and refund duplicate payments; the other actions are left to people.
_MONEY_FORM = re.compile(r'name="kind" value="payment"><input type="hidden" name="pk" value="([^"]+)">\s*'
                         r'<button type="submit" name="action" value="(accept_late|refund_duplicate)"')


def review_money_forms(html: str | None) -> list[tuple[str, str]]:
    """(payment pk, action) for each late payment to accept and each duplicate to refund, oldest first."""
    return _MONEY_FORM.findall(html or "")
