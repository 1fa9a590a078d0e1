"""Slack's request signatures: the check every request to the events endpoint passes, and the warning
that says why requests fail it (Slack's "Verifying requests from Slack": v0 HMAC-SHA256 of
`v0:<timestamp>:<body>` with the signing secret, timestamp within 5 minutes)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from typing import Any

log = logging.getLogger("codegen_slack.http")

EVENTS_PATH = "/slack/events"
MAX_CLOCK_SKEW_SECONDS = 5 * 60
SIGNATURE_WARNING_SECONDS = 60.0


class SignatureFailures:
    """Counts Slack requests that fail the signature check and says why in the log, at most once per
    `every` seconds for each cause: after a wrong SLACK_SIGNING_SECRET every request fails, and after
    this machine's clock drifted every correctly signed one is too old; nothing else would say so."""

    def __init__(self, every: float = SIGNATURE_WARNING_SECONDS) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._counts: dict[bool, int] = {}
        self._skew: dict[bool, float] = {}
        self._warned_at: dict[bool, float] = {}

    def note(self, skew: float | None = None) -> None:
        """One request failed the check: with `skew` (seconds between its timestamp and this machine's
        clock), it was signed with our secret but is too old or too new; without, the signature is
        wrong or missing."""
        stale = skew is not None
        with self._lock:
            self._counts[stale] = self._counts.get(stale, 0) + 1
            self._skew[stale] = max(self._skew.get(stale, 0.0), abs(skew or 0.0))
            now = time.monotonic()
            warned_at = self._warned_at.get(stale)
            if warned_at is not None and now - warned_at < self._every:
                return
            count, self._counts[stale], self._warned_at[stale] = self._counts[stale], 0, now
            most, self._skew[stale] = self._skew[stale], 0.0
        if stale:
            log.warning(
                "%d request(s) to %s were signed with SLACK_SIGNING_SECRET but stamped up to %.0f s "
                "from this machine's clock (Slack allows %d s): if they came from Slack, this machine's "
                "clock is wrong (keep it synced, with NTP); if not, they were replayed",
                count, EVENTS_PATH, most, MAX_CLOCK_SKEW_SECONDS,
            )  # fmt: skip
            return
        log.warning(
            "%d request(s) to %s failed Slack's signature check: if they came from Slack, "
            "SLACK_SIGNING_SECRET is wrong (your app at api.slack.com/apps → Basic Information → "
            "App Credentials → Signing Secret)",
            count,
            EVENTS_PATH,
        )


class BadSignature(Exception):
    """A Slack request that fails the signature check; `skew` (seconds) when the signature is right
    but its timestamp is more than MAX_CLOCK_SKEW_SECONDS from this machine's clock."""

    def __init__(self, skew: float | None = None) -> None:
        super().__init__("invalid signature")
        self.skew = skew


def check_signature(secret: bytes, body: bytes, environ: dict[str, Any]) -> None:
    """Slack's v0 signature over the raw body, with a timestamp at most 5 minutes from now (Slack's
    "Verifying requests from Slack"). Raises BadSignature."""
    timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
    signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
    if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
        raise BadSignature()
    digest = hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v0={digest}".encode(), signature.encode()):
        raise BadSignature()
    skew = time.time() - int(timestamp)
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
        raise BadSignature(skew)
