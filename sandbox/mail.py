"""The sandbox's mail catcher: an SMTP server (aiosmtpd) that keeps every message in memory,
and an inbox at /mail/ to read them (JSON at /mail/messages.json, newest first).

`sandbox serve` starts the SMTP side on --smtp-port (SANDBOX_SMTP_PORT, default 7025) and
`make run` points Kassa's EMAIL_URL at it. Messages are deduplicated by Message-ID, as a
real mailbox provider does: Kassa sends at-least-once with a Message-ID derived from the
outbox key, so a resend after a crash shows once (its `deliveries` count says how often it came).
"""
from __future__ import annotations

import html
import itertools
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from sandbox.http_types import Request, Response, Route
from sandbox.sandbox_app import SandboxContext

logger = logging.getLogger("sandbox.mail")
MAX_MESSAGES = 1000  # the oldest go first; this is a development inbox


@dataclass
class CaughtMessage:
    id: int
    to: list[str]
    sender: str
    subject: str
    text: str
    html: str
    date: str
    message_id: str
    attachments: list[dict] = field(default_factory=list)
    deliveries: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "to": self.to, "from": self.sender, "subject": self.subject, "text": self.text,
                "html": self.html, "date": self.date, "message_id": self.message_id,
                "attachments": self.attachments, "deliveries": self.deliveries}


def _part(message, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    return body.get_content() if body is not None else ""


class MailBox:
    """Every message the SMTP server accepted, by Message-ID."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._messages: dict[str, CaughtMessage] = {}

    def add(self, raw: bytes, rcpt_tos: list[str], mail_from: str) -> CaughtMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        message_id = str(parsed.get("Message-ID") or "").strip()
        with self._lock:
            if message_id and (known := self._messages.get(message_id)) is not None:
                known.deliveries += 1
                return known
            caught = CaughtMessage(
                id=next(self._ids), to=list(rcpt_tos), sender=mail_from, subject=str(parsed.get("Subject") or ""),
                text=_part(parsed, "plain"), html=_part(parsed, "html"),
                date=datetime.now(UTC).isoformat(timespec="seconds"), message_id=message_id,
                attachments=[{"filename": part.get_filename() or "", "content_type": part.get_content_type(),
                              "size": len(part.get_payload(decode=True) or b"")}
                             for part in parsed.iter_attachments()])
            self._messages[message_id or f"<none-{caught.id}>"] = caught
            while len(self._messages) > MAX_MESSAGES:
                self._messages.pop(next(iter(self._messages)))
        return caught

    def newest_first(self) -> list[CaughtMessage]:
        with self._lock:
            return sorted(self._messages.values(), key=lambda m: m.id, reverse=True)

    def get(self, message_id: int) -> CaughtMessage | None:
        return next((m for m in self.newest_first() if m.id == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class _Handler:
    def __init__(self, box: MailBox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        caught = self.box.add(envelope.original_content or envelope.content, envelope.rcpt_tos, envelope.mail_from)
        logger.info("mail caught id=%s deliveries=%s", caught.id, caught.deliveries)
        return "250 Message accepted for delivery"


def start_smtp(box: MailBox, host: str, port: int) -> Controller:
    controller = Controller(_Handler(box), hostname=host, port=port)
    controller.start()
    return controller


# --- the inbox pages ------------------------------------------------------------------

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#1f2933}}table{{border-collapse:collapse;width:100%}}
td,th{{text-align:left;padding:6px 10px;border-bottom:1px solid #e1e4e8}}iframe{{width:100%;height:640px;
border:1px solid #e1e4e8}}pre{{white-space:pre-wrap;background:#f4f5f7;padding:12px}}</style></head>
<body><p><a href="/mail/">Sandbox inbox</a> · <a href="/mail/messages.json">messages.json</a></p>{body}</body></html>"""


def _page(title: str, body: str) -> Response:
    return Response.html(_PAGE.format(title=html.escape(title), body=body))


def _inbox(box: MailBox) -> Response:
    rows = "".join(
        f'<tr><td>{m.date}</td><td>{html.escape(", ".join(m.to))}</td>'
        f'<td><a href="/mail/{m.id}/">{html.escape(m.subject or "(no subject)")}</a></td></tr>'
        for m in box.newest_first())
    body = (f"<h1>Sandbox inbox</h1><table><tr><th>date</th><th>to</th><th>subject</th></tr>{rows}</table>"
            if rows else "<h1>Sandbox inbox</h1><p>No mail yet.</p>")
    return _page("Sandbox inbox", body)


def _message_page(message: CaughtMessage) -> Response:
    attachments = "".join(f"<li>{html.escape(a['filename'])} ({a['content_type']}, {a['size']} bytes)</li>"
                          for a in message.attachments)
    # The HTML part goes into a sandboxed iframe (no scripts, no same origin), escaped into srcdoc.
    frame = (f'<h2>HTML</h2><iframe sandbox title="HTML part" srcdoc="{html.escape(message.html, quote=True)}">'
             "</iframe>" if message.html else "")
    body = (f"<h1>{html.escape(message.subject)}</h1><table>"
            f"<tr><th>to</th><td>{html.escape(', '.join(message.to))}</td></tr>"
            f"<tr><th>from</th><td>{html.escape(message.sender)}</td></tr>"
            f"<tr><th>date</th><td>{message.date}</td></tr>"
            f"<tr><th>Message-ID</th><td>{html.escape(message.message_id)} (delivered {message.deliveries}×)</td></tr>"
            f"</table>{f'<ul>{attachments}</ul>' if attachments else ''}{frame}"
            f"<h2>Text</h2><pre>{html.escape(message.text)}</pre>")
    return _page(message.subject, body)


def routes(ctx: SandboxContext) -> list[Route]:
    box = MailBox()
    ctx.services["mail"] = box
    if (address := ctx.options.get("smtp")) is not None:
        try:
            controller = start_smtp(box, *address)
        except Exception as exc:  # noqa: BLE001 - a taken port must not take the payment sandbox down with it
            logger.warning("mail catcher not started on %s:%s: %s", *address, exc)
        else:
            ctx.services["smtp"] = controller
            ctx.on_close(controller.stop)

    def inbox(request: Request) -> Response:
        if request.subpath in ("", "/"):
            return _inbox(box)
        if request.subpath == "/messages.json":
            return Response.json([m.as_json() for m in box.newest_first()])
        number = request.subpath.strip("/")
        message = box.get(int(number)) if number.isdigit() else None
        if message is None:
            return _page("Not found", "<p>No such message.</p>")
        return _message_page(message)

    def clear(request: Request) -> Response:
        box.clear()
        return Response.json({"cleared": True})

    return [Route("GET", "/mail", inbox), Route("POST", "/mail/_clear", clear)]
