"""Images attached in Slack, passed to runs as data URIs; other files are only named in the prompt.

A handler sorts a message's files (`sort_attachments`) without any I/O and, when there are images
to send, records its request in the "fetching" state. `ImageWorker` then downloads each image with
the bot token (only from Slack's own hosts, at most MAX_IMAGE_BYTES each, at most MAX_IMAGES a
message), stores them as data URIs and makes the request pending for the create or resume worker.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.clock import Clock
from storage.records import Request
from storage.store import Store

log = logging.getLogger("codegen_slack.images")

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 5
NOTE_CHARS = 1_000
FETCH_ATTEMPTS = 3
RETRY_SECONDS = 5.0
SLACK_FILE_HOST = "files.slack.com"
IMAGES_ONLY_PROMPT = "Look at the attached image."


@dataclass(frozen=True)
class Attachments:
    """A message's files, sorted: images to download (name, mimetype, url) and a note naming the rest."""

    fetch: list[dict[str, str]]
    note: str


def sort_attachments(files: Iterable[dict[str, Any]]) -> Attachments:
    """Pick the images that will be sent; every other file is named in a note for the prompt."""
    fetch: list[dict[str, str]] = []
    skipped: list[str] = []
    for file in files:
        name = " ".join(str(file.get("name") or file.get("title") or "a file").split())
        mimetype = str(file.get("mimetype") or "")
        url = str(file.get("url_private") or "")
        if mimetype not in IMAGE_TYPES or not url:
            skipped.append(f"{name} ({mimetype or 'unknown type'})")
        elif int(file.get("size") or 0) > MAX_IMAGE_BYTES:
            skipped.append(f"{name} (an image over {MAX_IMAGE_BYTES // 2**20} MB)")
        elif len(fetch) >= MAX_IMAGES:
            skipped.append(f"{name} (more than {MAX_IMAGES} images)")
        else:
            fetch.append({"name": name, "mimetype": mimetype, "url": url})
    return Attachments(fetch=fetch, note=not_sent_note(skipped))


def compact_files(files: Iterable[dict[str, Any]], limit: int = 8) -> list[dict[str, Any]]:
    """The fields of Slack file objects that sort_attachments reads, small enough to carry in a modal."""
    return [
        {
            "name": str(file.get("name") or file.get("title") or "a file")[:60],
            "mimetype": file.get("mimetype"),
            "size": file.get("size"),
            "url_private": file.get("url_private"),
        }
        for file in list(files)[:limit]
    ]


def not_sent_note(names: list[str]) -> str:
    """Text appended to a prompt naming files that were attached in Slack but not sent ("" if none)."""
    if not names:
        return ""
    note = "Files attached in Slack but not sent to you: " + "; ".join(names)
    return "\n\n" + (note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…")


class _TryAgain(Exception):
    """The download failed in a way that may pass (Slack busy or unreachable)."""


class _Unusable(Exception):
    """The file can't be sent (the message says why, for the prompt)."""


class ImageWorker:
    """One step: download the images of every request waiting for them, then make it pending."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        token: str,
        api_url: str,
        on_ready: Callable[[], None],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_ready = on_ready
        self._hosts = {SLACK_FILE_HOST, urlsplit(api_url).hostname or SLACK_FILE_HOST}
        self._token = token
        self._transport = transport

    def step(self) -> float | None:
        """Fetch due requests' images; returns seconds until a retry is due."""
        for request in self._store.requests_fetching_files(self._clock.now()):
            self._fetch(request)
        due = self._store.next_fetch_due()
        return None if due is None else max(0.05, due - self._clock.now())

    def _fetch(self, request: Request) -> None:
        images: list[str] = []
        failed: list[str] = []
        auth = {"Authorization": f"Bearer {self._token}"}
        client = httpx.Client(headers=auth, timeout=15.0, follow_redirects=True, transport=self._transport)
        with client as http:
            for ref in request.options.get("files", []):
                try:
                    images.append(self._download(http, ref))
                except _TryAgain as exc:
                    if request.attempts + 1 < FETCH_ATTEMPTS:
                        log.warning("request %s: image download failed (%s); retrying", request.id, exc)
                        self._store.update_request(
                            request.id,
                            attempts=request.attempts + 1,
                            next_attempt_at=self._clock.now() + RETRY_SECONDS,
                        )
                        return
                    failed.append(f"{ref['name']} (could not be downloaded)")
                except _Unusable as exc:
                    failed.append(f"{ref['name']} ({exc})")
        prompt = request.prompt + not_sent_note(failed)
        self._store.files_fetched(request.id, images=images, prompt=prompt, now=self._clock.now())
        self._on_ready()

    def _download(self, http: httpx.Client, ref: dict[str, str]) -> str:
        """The image at `ref["url"]` as a data URI."""
        if urlsplit(ref["url"]).hostname not in self._hosts:
            raise _Unusable("not a Slack file")
        try:
            with http.stream("GET", ref["url"]) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    raise _TryAgain(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise _Unusable(f"Slack answered HTTP {response.status_code}")
                if not response.headers.get("content-type", "").startswith("image/"):
                    raise _Unusable("Slack did not send an image; is the bot in the channel?")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data.extend(chunk)
                    if len(data) > MAX_IMAGE_BYTES:
                        raise _Unusable(f"an image over {MAX_IMAGE_BYTES // 2**20} MB")
        except httpx.TransportError as exc:
            raise _TryAgain(type(exc).__name__) from None
        return f"data:{ref['mimetype']};base64,{base64.b64encode(bytes(data)).decode()}"
