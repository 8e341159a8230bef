"""Outbound webhooks to sellers (Standard Webhooks): the outbox, signing, delivery and retries."""
