"""What the Nano monitor remembers per watched account."""
from django.db import models


class NanoCursor(models.Model):
    """Per watched Nano account: the last frontier we read (history is read only when it moved) and the
    baseline taken at its first read, so money that predates the watch never completes a payment.
    The row is deleted when the address has no reserved payment left: a later payment takes a new baseline."""

    address = models.CharField(max_length=70, unique=True)
    frontier = models.CharField(max_length=64, blank=True)
    # When the baseline was taken (null: not yet) and the receivable sends (hashes) that were there before.
    baseline_at = models.DateTimeField(null=True, blank=True)
    preexisting = models.JSONField(default=list, blank=True)
    # When the last scan that read this address began: a closed payment's slot here is released only
    # once this is after its window, so money sent while the node was down is seen before the watch ends.
    checked_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address
