"""Nano (XNO): non-custodial. The shopper pays the seller's own address an exact,
unique amount; we learn about it from the node (batched scan, or a shopper-reported
block hash checked with block_info). No ORM here: the monitor (payments.monitor_nano)
reads the database and hands us plain WatchedAccount values.

The scan per chunk of 1000 addresses:
  1. accounts_receivable (source, only confirmed): sends not yet received;
  2. accounts_frontiers: an address whose frontier moved since its cursor has new blocks;
  3. account_history (raw) only for those, newest first, down to the cursor: this
     catches sends the seller's wallet already received. A receive is reported
     under its SEND block hash (the receive's link), so one send seen first as
     receivable and later as received is one Receipt.

Money that predates a payment never completes it. A real address has years of history and
unreceived sends, and the node's `local_timestamp` is the time *that node* stored a block (recent
after a re-sync, "0" before V18), so time cannot say what is new. The ledger can: the first read of
an address (no baseline yet) takes a baseline, and afterwards only blocks above the cursor and
receivable sends outside the baseline's set are new. See WatchedAccount.baseline for the first read.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction

from django.conf import settings

from core.nano_codec import (
    RAW_PER_MICRO,
    InvalidAddress,
    address_to_public_key,
    format_raw,
    normalize_address,
)
from payments.providers.base import Observation, PaymentInstructions, Quote, RefundResult
from payments.providers.errors import ProviderNotConfigured, ProviderRejected, Unsupported, VerificationFailed
from payments.providers.gateway_events import GatewayEvent
from payments.providers.nano_results import HistoryEntry, ReceivableBlock
from payments.providers.nano_rpc import NanoRpcClient
from payments.providers.nano_values import (  # noqa: F401  (re-exported: callers import them from here)
    RefundAnchor,
    ScanResult,
    SendSeen,
    WatchedAccount,
    chunked,
    due_raw,
    payment_qr_svg,
    payment_uri,
    refund_raw,
)
from payments.providers.rates import RateSource, rate_source_from_settings
from sellers.money import currency_exponent
from sellers.selectors import payout_destination_value

log = logging.getLogger("kassa.providers.nano")

CODE = "nano"
CHUNK = 1000                 # accounts per accounts_receivable / accounts_frontiers call
HISTORY_PAGE = 100           # account_history entries per call
HISTORY_MAX_PAGES = 20       # a runaway history stops here (logged); the next tick goes on
RECEIVABLE_THRESHOLD = RAW_PER_MICRO  # due amounts are whole µXNO: smaller sends are dust
RECEIVABLE_MAX = 32_000      # per address per tick, after paging a full answer
_HASH_RE = re.compile(r"[0-9A-Fa-f]{64}")
RATE_PLACES = Decimal("1e-12")  # Payment.rate has 12 decimal places


def _seller_address(seller) -> str:
    """The seller's normalized Nano address, or "" when missing or invalid."""
    try:
        return normalize_address(payout_destination_value(seller, CODE))
    except InvalidAddress:
        return ""


class NanoProvider:
    code = CODE
    # start() only formats a URI, no RPC: payment_start asks it inside its transaction (one write).
    start_is_local = True

    def __init__(self, *, client: NanoRpcClient | None = None, rates: RateSource | None = None) -> None:
        self._client = client
        self._rates = rates

    # --- configuration -----------------------------------------------------------------

    @property
    def client(self) -> NanoRpcClient:
        url = settings.NANO_RPC_URL
        if self._client is None or self._client.url != url:
            self._client = NanoRpcClient(url, timeout=getattr(settings, "NANO_RPC_TIMEOUT", 5),
                                         retries=getattr(settings, "NANO_RPC_RETRIES", 2))
        return self._client

    @property
    def rates(self) -> RateSource:
        if self._rates is None:
            self._rates = rate_source_from_settings()
        return self._rates

    def is_available(self, seller, order) -> bool:
        if not _seller_address(seller):
            return False
        return order.currency == "XNO" or self.rates.supports(order.currency)

    # --- pricing and start ---------------------------------------------------------------

    def quote(self, seller, order):
        """XNO orders are due as priced; fiat orders at a rate locked now, rounded UP to 1 µXNO."""
        address = _seller_address(seller)
        if not address:
            message = f"{seller.name} has no valid Nano address."
            raise ProviderNotConfigured(message, user_message=message, provider=CODE)
        if order.currency == "XNO":
            return Quote(pay_currency="XNO", amount_due=order.amount, pay_to=address, unique_amount=True)
        rate = self.rates.rate(order.currency)
        # Locked as µXNO per order-currency minor unit (the Payment.rate convention, 12 places);
        # the due amount is computed from the stored rate, so the row alone explains it.
        stored_rate = rate.micro_xno_per_major.scaleb(-currency_exponent(order.currency)).quantize(RATE_PLACES)
        amount_due = math.ceil(Fraction(stored_rate) * order.amount)
        return Quote(pay_currency="XNO", amount_due=amount_due, pay_to=address, rate=stored_rate,
                     rate_source=rate.source, unique_amount=True)

    def start(self, payment) -> PaymentInstructions:
        uri = payment_uri(payment.pay_to, due_raw(payment))
        return PaymentInstructions(pay_to=payment.pay_to, payment_uri=uri)

    # --- the batched scan (monitor) -------------------------------------------------------

    def scan(self, accounts: Iterable[WatchedAccount]) -> ScanResult:
        """Everything the node knows about money coming into these accounts.

        Raises ProviderError when the node is down; the caller then changes nothing.
        """
        accounts = list(accounts)
        client = self.client
        # Which receivable action the node knows (or UnsupportedNode); read once per process, so it
        # is left out of the tick's call count.
        client.node_version()
        calls_before = client.calls
        result = ScanResult()
        count = getattr(settings, "NANO_RECEIVABLE_COUNT", 500)
        for chunk in chunked(accounts, CHUNK):
            addresses = [account.address for account in chunk]
            receivable = self._receivable(addresses, count)
            frontiers = client.accounts_frontiers(addresses)
            first_seen = self._preexisting_receivable([a for a in chunk if a.baseline is None], receivable)
            for account in chunk:
                known = account.baseline if account.baseline is not None else first_seen.get(account.address, set())
                if account.baseline is None:
                    result.baselines[account.address] = sorted(known)
                for block in receivable.get(account.address, ()):
                    if block.hash.upper() in known:
                        result.preexisting += 1
                    elif block.amount > 0:
                        result.observations.append(self._from_receivable(block))
                frontier = frontiers.get(account.address)
                if not frontier or frontier == account.cursor:
                    continue
                entries, settled, boundary = self._history_since(account, frontier)
                result.history_reads.append(account.address)
                for entry in entries:
                    if entry.kind != "receive" or entry.amount <= 0 or not entry.link:
                        continue
                    if entry.link.upper() in known:  # the wallet received a send that predates the watch
                        result.preexisting += 1
                        continue
                    result.observations.append(self._from_history(account.address, entry))
                if settled:  # an unconfirmed block stays above the cursor, so it is read again
                    result.cursors[account.address] = frontier
                elif boundary:  # a first read: what lies below stays pre-existing
                    result.cursors[account.address] = boundary
        result.rpc_calls = client.calls - calls_before
        return result

    def _receivable(self, addresses: list[str], count: int) -> dict[str, list[ReceivableBlock]]:
        """Every confirmed receivable send of at least 1 µXNO to these addresses.

        Due amounts are whole µXNO, so `threshold` drops dust on the node. A real node cuts
        at `count` in hash order, not arrival order, and has no offset here: an address whose
        list came back full is asked again alone with a larger count, up to a cap (bounded
        cost per tick; what is still cut is logged and the next tick reads it again).
        """
        found = self.client.accounts_receivable(addresses, count=count, source=True, include_only_confirmed=True,
                                                threshold=RECEIVABLE_THRESHOLD)
        for address in [a for a, blocks in found.items() if len(blocks) >= count]:
            size = count
            while len(found.get(address, ())) >= size and size < RECEIVABLE_MAX:
                size = min(size * 8, RECEIVABLE_MAX)
                found.update(self.client.accounts_receivable([address], count=size, source=True,
                                                             include_only_confirmed=True,
                                                             threshold=RECEIVABLE_THRESHOLD))
            if len(found.get(address, ())) >= RECEIVABLE_MAX:
                log.warning("nano receivable list cut at %s", RECEIVABLE_MAX, extra={"address": address})
        return found

    def _preexisting_receivable(self, first_reads: list[WatchedAccount],
                                receivable: Mapping[str, list[ReceivableBlock]]) -> dict[str, set[str]]:
        """At an address's first read: its receivable sends the node stored before `since` (or at "0").

        One blocks_info per 1000 hashes, only for addresses read for the first time (once per address).
        A send the node cannot describe counts as new: it is matched only on the usual evidence.
        """
        owner = {block.hash.upper(): account for account in first_reads if account.since
                 for block in receivable.get(account.address, ())}
        old: dict[str, set[str]] = {}
        for part in chunked(sorted(owner), CHUNK):
            for block_hash, info in self.client.blocks_info(part).items():
                account = owner.get(block_hash)
                if account and info.local_timestamp < account.since:  # 0 ("unknown", pre-V18) is old too
                    old.setdefault(account.address, set()).add(block_hash)
        return old

    def _history_since(self, account: WatchedAccount, frontier: str) -> tuple[list[HistoryEntry], bool, str]:
        """Blocks above the cursor, whether all are confirmed, and (first read only) the newest pre-existing block.

        Without a cursor: after a baseline everything is new (the address had no blocks then); at the
        first read the walk stops at the first block the node stored before `since` (or at "0").
        """
        entries: list[HistoryEntry] = []
        head: str | None = None
        first_read = not account.cursor and account.baseline is None
        for _page in range(HISTORY_MAX_PAGES):
            page = self.client.account_history(account.address, count=HISTORY_PAGE, raw=True, head=head)
            for entry in page.entries:
                if entry.hash.upper() == account.cursor.upper():
                    return entries, all(e.confirmed for e in entries), ""
                if first_read and entry.local_timestamp < account.since:
                    return entries, all(e.confirmed for e in entries), entry.hash.upper()
                entries.append(entry)
            if not page.previous:
                return entries, all(e.confirmed for e in entries), ""
            head = page.previous
        log.warning("nano history read stopped at %s pages", HISTORY_MAX_PAGES,
                    extra={"address": account.address, "frontier": frontier})
        return entries, all(e.confirmed for e in entries), ""

    @staticmethod
    def _from_receivable(block: ReceivableBlock) -> Observation:
        return Observation(provider=CODE, external_tx_id=block.hash.upper(), amount=block.amount, confirmed=True,
                           pay_to=block.account, source_account=block.source,
                           raw={"via": "receivable", "hash": block.hash.upper()})

    @staticmethod
    def _from_history(address: str, entry: HistoryEntry) -> Observation:
        return Observation(provider=CODE, external_tx_id=entry.link.upper(), amount=entry.amount,
                           confirmed=entry.confirmed, pay_to=address, source_account=entry.account,
                           raw={"via": "history", "receive_block": entry.hash.upper(), "hash": entry.link.upper()})

    def poll(self, payments) -> list[Observation]:
        """A one-off check of these payments' addresses: a first read each (no cursor, no baseline), so
        blocks the node stored before the oldest payment's start are left out."""
        oldest: dict[str, int] = {}
        for payment in payments:
            if payment.pay_to:
                created = int(payment.created_at.timestamp())
                oldest[payment.pay_to] = min(oldest.get(payment.pay_to, created), created)
        if not oldest:
            return []
        return self.scan(WatchedAccount(address, "", since) for address, since in oldest.items()).observations

    # --- shopper-reported block hash ----------------------------------------------------------

    def verify(self, payment, reference: str) -> list[Observation]:
        """block_info must show a confirmed send of exactly the amount due to the payment's address."""
        block_hash = (reference or "").strip().upper()
        if not _HASH_RE.fullmatch(block_hash):
            raise VerificationFailed("bad_reference", "a block hash is 64 hexadecimal characters", provider=CODE,
                                     user_message="That does not look like a Nano block hash (64 hex characters).")
        block = self.client.block_info(block_hash)
        if block is None:
            raise self._refuse("block_not_found", "The Nano network does not know that block (yet).")
        if block.subtype != "send":
            raise self._refuse("not_a_send", "That block is not a send.")
        try:
            destination_key = address_to_public_key(block.link_as_account)
        except InvalidAddress:
            raise self._refuse("wrong_destination", "That block does not pay this address.") from None
        if destination_key != address_to_public_key(payment.pay_to):
            raise self._refuse("wrong_destination", "That block does not pay this address.")
        due = due_raw(payment)
        if block.amount != due:
            raise self._refuse("wrong_amount",
                               f"That block sends {format_raw(block.amount)} XNO, not {format_raw(due)} XNO.")
        if not block.confirmed:
            raise self._refuse("not_confirmed", "That block is not confirmed yet; try again in a moment.")
        # The rule of an address's first read (WatchedAccount.baseline): a send the node stored before the
        # payment started (or at "0", before V18) predates it, however well its amount fits.
        created_at = getattr(payment, "created_at", None)
        if created_at is not None and block.local_timestamp < int(created_at.timestamp()):
            raise self._refuse("too_old", "That send was made before this payment started, so it cannot pay it. "
                                          "Send the amount shown, then paste the new block's hash.")
        return [Observation(provider=CODE, external_tx_id=block.hash, amount=block.amount, confirmed=True,
                            payment_ref=str(payment.pk), pay_to=payment.pay_to, source_account=block.block_account,
                            raw={"via": "verify", "hash": block.hash, "height": block.height})]

    @staticmethod
    def _refuse(reason: str, message: str) -> VerificationFailed:
        return VerificationFailed(reason, message, user_message=message, provider=CODE)

    # --- webhooks and refunds ------------------------------------------------------------------

    def webhook_signature_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return False  # Nano has no webhooks: nothing posted to Kassa speaks for the node

    def webhook_event_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        return ""

    def read_event(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        raise Unsupported("Nano has no webhooks; payments are found by polling the node", provider=CODE)

    def capture(self, observation: Observation) -> Observation | None:
        raise Unsupported("Nano payments are final when the node confirms them; nothing to capture", provider=CODE)

    def refund(self, payment, amount_minor: int, *, idempotency_key: str) -> RefundResult:
        """Non-custodial: Kassa cannot move the seller's XNO. payments.services creates a Nano
        refund `awaiting_seller` (with refund_anchor and refund_raw) and never calls this."""
        raise ProviderRejected("Kassa cannot send the seller's XNO; the seller sends the refund", provider=CODE)

    def refund_lookup(self, payment, *, refund_id: str, provider_refund_id: str = "") -> RefundResult | None:
        raise Unsupported("A Nano refund is the seller's own send: the node shows it (refund_sends)", provider=CODE)

    # --- refunds: the seller sends, the node shows it -------------------------------------------

    def refund_anchor(self, payment, *, shopper_account: str = "") -> RefundAnchor:
        """Where a refund of this payment must go and where the seller's chain stands now.

        The shopper's account is the one that sent the payment's block (`shopper_account`, from
        its receipt, else block_info of tx_id). Only a send above today's block count counts:
        heights, unlike a node's local_timestamp, cannot make an old send look new.
        Raises ProviderError when the node is down (then no refund is created).
        """
        send_to = shopper_account
        if not send_to and payment.tx_id:
            block = self.client.block_info(payment.tx_id)
            send_to = block.block_account if block else ""
        try:
            send_to = normalize_address(send_to)
        except InvalidAddress:
            message = "Kassa does not know which Nano account paid, so it cannot say where to send the refund."
            raise ProviderRejected(message, user_message=message, provider=CODE) from None
        info = self.client.account_info(payment.pay_to)
        return RefundAnchor(send_from=payment.pay_to, send_to=send_to, after_height=info.block_count if info else 0)

    def refund_sends(self, wanted: Iterable[RefundAnchor]) -> list[SendSeen]:
        """Confirmed sends from each seller address above the lowest `after_height` asked for,
        oldest first: one history walk per address (newest first, stopping at that height)."""
        floors: dict[str, int] = {}
        for anchor in wanted:
            floors[anchor.send_from] = min(floors.get(anchor.send_from, anchor.after_height), anchor.after_height)
        seen: list[SendSeen] = []
        for address, floor in sorted(floors.items()):
            head: str | None = None
            for _page in range(HISTORY_MAX_PAGES):
                page = self.client.account_history(address, count=HISTORY_PAGE, raw=True, head=head)
                above = [entry for entry in page.entries if entry.height > floor]
                seen.extend(SendSeen(hash=e.hash.upper(), send_from=address, send_to=e.account, amount_raw=e.amount,
                                     height=e.height) for e in above if e.kind == "send" and e.confirmed)
                if len(above) < len(page.entries) or not page.previous:
                    break
                head = page.previous
        return sorted(seen, key=lambda send: (send.send_from, send.height))

    def refund_verify(self, refund, reference: str) -> SendSeen:
        """block_info must show a confirmed send from the seller's address to the shopper's
        account, of exactly the refund's amount, made after the refund was created."""
        block_hash = (reference or "").strip().upper()
        if not _HASH_RE.fullmatch(block_hash):
            raise self._refuse("bad_reference", "That does not look like a Nano block hash (64 hex characters).")
        block = self.client.block_info(block_hash)
        if block is None:
            raise self._refuse("block_not_found", "The Nano network does not know that block (yet).")
        if block.subtype != "send":
            raise self._refuse("not_a_send", "That block is not a send.")
        if block.block_account != refund.send_from:
            raise self._refuse("wrong_sender", f"That send is from {block.block_account}, not from your address "
                                               f"{refund.send_from}.")
        if block.link_as_account != refund.send_to:
            raise self._refuse("wrong_destination", f"That send goes to {block.link_as_account}, not to the "
                                                    f"shopper's account {refund.send_to}.")
        wanted = int(refund.amount_raw)
        if block.amount != wanted:
            raise self._refuse("wrong_amount",
                               f"That block sends {format_raw(block.amount)} XNO, not {format_raw(wanted)} XNO.")
        if refund.after_height is not None and block.height <= refund.after_height:
            raise self._refuse("too_old", "That send was made before this refund was created, so it cannot be "
                                          "this refund. Send the refund, then paste the new block's hash.")
        if not block.confirmed:
            raise self._refuse("not_confirmed", "That block is not confirmed yet; try again in a moment.")
        return SendSeen(hash=block.hash, send_from=block.block_account, send_to=block.link_as_account,
                        amount_raw=block.amount, height=block.height)
