"""Follow the Nano node's websocket (NANO_WS_URL) and check an address the moment one of
its payments is confirmed (payments/nano_listener.py). Optional: the beat tick finds every
payment without it, only later. `make run` starts it beside the sandbox (Procfile)."""
import contextlib
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from payments.nano_listener import ConfirmationListener


class Command(BaseCommand):
    help = "Follow the Nano node's websocket so payments complete as soon as their send is confirmed."

    def add_arguments(self, parser):
        parser.add_argument("--url", default=None, help="defaults to NANO_WS_URL")
        parser.add_argument("--refresh", type=float, default=None,
                            help="seconds between updates of the watched addresses (NANO_WS_REFRESH_SECONDS)")

    def handle(self, *args, url: str | None, refresh: float | None, **options):
        url = url or settings.NANO_WS_URL
        try:
            parse_uri(url)
        except InvalidURI:
            raise CommandError(f"NANO_WS_URL is not a ws:// or wss:// URL: {url!r}") from None
        refresh = refresh if refresh is not None else settings.NANO_WS_REFRESH_SECONDS
        if refresh <= 0:
            raise CommandError("--refresh must be a positive number of seconds.")
        self.stdout.write(f"Following {url} (watched addresses refreshed every {refresh:g} s)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends it quietly
            ConfirmationListener(url, refresh_seconds=refresh).run(threading.Event())
