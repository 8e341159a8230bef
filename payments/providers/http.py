"""The one HTTP client the gateway providers use.

A requests.Session per provider (connection reuse), a timeout on every call,
and retries with exponential backoff and full jitter on connection errors,
timeouts and 5xx only. A 4xx is the provider saying no: never retried, mapped
to ProviderRejected. Everything transient ends as ProviderUnavailable, which
callers treat as "try again later" and never as a failed payment.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.utils.datastructures import CaseInsensitiveMapping

from config import json_input
from payments.providers.errors import ProviderRejected, ProviderUnavailable

log = logging.getLogger("kassa.providers.http")

RETRY_STATUSES = frozenset({500, 502, 503, 504})


@dataclass
class RetryPolicy:
    attempts: int = 3            # total tries, including the first
    base_delay: float = 0.2      # seconds; doubled per retry, then jittered
    max_delay: float = 2.0

    def delay(self, retry_number: int) -> float:
        # "Full jitter" (AWS architecture blog): spread retries so clients don't stampede.
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** retry_number)))


class JsonHttpClient:
    """JSON over HTTP for one provider. `provider` labels logs and errors."""

    def __init__(self, *, provider: str, base_url: str, timeout: float = 10.0,
                 retry: RetryPolicy | None = None, session: requests.Session | None = None) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()

    def request(self, method: str, path: str, *, json: Any = None, params: dict | None = None,
                headers: dict | None = None, auth: Any = None, retry: bool = True) -> tuple[int, Any]:
        """Send one request (with retries when `retry`), return (status, parsed JSON body).

        Raises ProviderRejected on 4xx and ProviderUnavailable when every try failed.
        A 401 is returned to the caller only via ProviderRejected(status=401).
        """
        url = f"{self.base_url}{path}"
        attempts = self.retry.attempts if retry else 1
        last_error: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.retry.delay(attempt - 1))
            started = time.perf_counter()
            try:
                response = self.session.request(method, url, json=json, params=params, headers=headers,
                                                auth=auth, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                last_error = exc
                self._log(method, path, None, started, attempt, error=exc.__class__.__name__)
                continue
            self._log(method, path, response.status_code, started, attempt)
            if response.status_code == 429:
                # Rate limited: transient, but a 4xx, so not retried here; the caller tries later.
                raise ProviderUnavailable(f"{self.provider} {method} {path}: HTTP 429", status=429,
                                          provider=self.provider)
            if response.status_code in RETRY_STATUSES:
                last_error = ProviderUnavailable(f"{self.provider} {method} {path}: HTTP {response.status_code}",
                                                 status=response.status_code, provider=self.provider)
                continue
            body = self._parse(response)
            if 400 <= response.status_code < 500:
                raise self._rejected(method, path, response.status_code, body)
            if response.status_code >= 300:
                raise ProviderUnavailable(f"{self.provider} {method} {path}: unexpected HTTP {response.status_code}",
                                          status=response.status_code, provider=self.provider)
            return response.status_code, body
        if isinstance(last_error, ProviderUnavailable):
            raise last_error
        raise ProviderUnavailable(f"{self.provider} {method} {path}: {last_error.__class__.__name__}",
                                  provider=self.provider) from last_error

    def _parse(self, response: requests.Response) -> Any:
        if not response.content:
            return {}
        try:
            return json_input.loads(response.content)
        except ValueError:
            if response.status_code >= 400:
                return {"raw": response.text[:300]}
            raise ProviderUnavailable(f"{self.provider}: unreadable JSON answer", provider=self.provider) from None

    def _rejected(self, method: str, path: str, status: int, body: Any) -> ProviderRejected:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            code, message = str(error.get("code", "")), str(error.get("description") or error.get("message") or "")
        else:
            code = ""
            message = str(error or (body.get("message") if isinstance(body, dict) else "") or "")
        return ProviderRejected(f"{self.provider} {method} {path}: HTTP {status} {code} {message}".strip(),
                                status=status, provider_code=code, provider_message=message[:300],
                                provider=self.provider)

    def _log(self, method: str, path: str, status: int | None, started: float, attempt: int, error: str = "") -> None:
        # Paths carry gateway ids only, never secrets; bodies are not logged.
        log.info("provider call", extra={"provider": self.provider, "method": method, "path": path,
                                         "status": status, "attempt": attempt + 1, "error": error,
                                         "ms": round((time.perf_counter() - started) * 1000, 1)})


class ClientsByUrl:
    """One JsonHttpClient per base URL for a provider (settings change the URL in tests)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._clients: dict[str, JsonHttpClient] = {}

    def get(self, base_url: str) -> JsonHttpClient:
        if base_url not in self._clients:
            self._clients[base_url] = JsonHttpClient(provider=self.provider, base_url=base_url)
        return self._clients[base_url]


def header_value(headers: Mapping[str, str], name: str) -> str:
    """Case-insensitive lookup that works for dicts, Django's request.headers and stored rows."""
    if isinstance(headers, CaseInsensitiveMapping):  # request.headers: a dict lookup, not a walk over META
        return headers.get(name) or ""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")
