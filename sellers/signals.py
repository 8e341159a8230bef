"""Signals sellers send for apps above them (e.g. notifications emails the seller), so sellers never
imports those apps: dependencies stay one-way."""
from django.dispatch import Signal

# Sent inside the transaction that disables the endpoint; kwargs: endpoint.
webhook_endpoint_disabled = Signal()
