"""Who caused a change: recorded on every OrderEvent and PaymentEvent."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orders.models import ActorType


@dataclass(frozen=True)
class Actor:
    type: str
    user: Any = None        # a User for seller and staff actors
    label: str = ""         # e.g. the provider code or the API key prefix

    @classmethod
    def system(cls, label: str = "") -> Actor:
        return cls(ActorType.SYSTEM, label=label)

    @classmethod
    def provider(cls, code: str) -> Actor:
        return cls(ActorType.PROVIDER, label=code)

    @classmethod
    def shopper(cls, label: str = "") -> Actor:
        return cls(ActorType.SHOPPER, label=label)

    @classmethod
    def seller_user(cls, user) -> Actor:
        return cls(ActorType.SELLER, user=user)

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(ActorType.STAFF, user=user)

    @classmethod
    def api(cls, key_prefix: str) -> Actor:
        return cls(ActorType.API, label=key_prefix)

    def event_fields(self) -> dict[str, Any]:
        user = self.user if getattr(self.user, "pk", None) else None
        return {"actor_type": self.type, "actor_user": user}

    def describe(self) -> dict[str, Any]:
        return {"actor": self.type, "actor_label": self.label or (str(self.user) if self.user else "")}
