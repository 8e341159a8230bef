"""The staff groups and what they may do (issue 7): Support looks and re-checks;
Finance also refunds, settles, expires and decides on late or unmatched money."""
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

# Every model staff look at: both groups can view them all.
VIEW_MODELS = {
    "sellers": ["seller", "sellermembership", "payoutdestination"],
    "webhooks": ["webhookendpoint", "webhookdelivery"],
    "orders": ["product", "order", "orderevent"],
    "payments": ["payment", "paymentevent", "receipt", "refund", "refundrequest", "inboundwebhook",
                 "ledgerentry", "settlement"],
    "notifications": ["outboxemail", "selleremailsettings"],
}
SUPPORT_ACTIONS = ["recheck_payment", "reprocess_webhook", "resend_email"]
FINANCE_ACTIONS = [*SUPPORT_ACTIONS, "expire_payment", "refund_payment", "decide_late_payment", "assign_receipt",
                   "manage_settlements"]
GROUPS = {"Support": SUPPORT_ACTIONS, "Finance": FINANCE_ACTIONS}


def _permissions(action_codenames: list[str]) -> list[Permission]:
    views = Q()
    for app_label, models in VIEW_MODELS.items():
        views |= Q(content_type__app_label=app_label, codename__in=[f"view_{m}" for m in models])
    actions = Q(content_type__app_label__in=["payments", "notifications"], codename__in=action_codenames)
    return list(Permission.objects.filter(views | actions))


def staff_groups_sync() -> dict[str, int]:
    """Create or update the groups to exactly these permissions; safe to run again."""
    out = {}
    with transaction.atomic():
        for name, actions in GROUPS.items():
            group, _ = Group.objects.get_or_create(name=name)
            perms = _permissions(actions)
            group.permissions.set(perms)
            out[name] = len(perms)
    return out
