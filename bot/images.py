"""Images attached in Slack, passed to runs as data URIs; other files are only named in the prompt.

A handler sorts a message's files (`sort_attachments`) without any I/O and, when there are images
to send, records its request in the "fetching" state with an `images` job. That job downloads each
image with the bot token (only from Slack's own hosts, at most MAX_IMAGE_BYTES each, at most
MAX_IMAGES a message), stores them as data URIs and makes the request pending for its create or
resume job.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.clock import Clock
from bot.jobs import JobKind, Outcome, Retry
from bot.replies import requester_notice
from storage.job_kinds import IMAGES
from storage.ports import ImagesStore
from storage.records import Job

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


def images_kind(store: ImagesStore, clock: Clock, token: str, api_url: str,
                transport: httpx.BaseTransport | None = None) -> JobKind:  # fmt: skip
    """The `images` job kind."""
    job = ImageJob(store=store, clock=clock, token=token, api_url=api_url, transport=transport)
    notice = requester_notice(store, lambda request, reason: f"Couldn't read your attached files: {reason}")
    return JobKind(IMAGES, job.handle, notice=notice)


class ImageJob:
    """Downloads the images of one request, then makes the request pending for its own job. An image
    that cannot be had after `FETCH_ATTEMPTS` tries is named in the prompt instead of sent."""

    def __init__(
        self,
        *,
        store: ImagesStore,
        clock: Clock,
        token: str,
        api_url: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._hosts = {SLACK_FILE_HOST, urlsplit(api_url).hostname or SLACK_FILE_HOST}
        self._token = token
        self._transport = transport

    def handle(self, job: Job) -> Outcome | None:
        """Fetch the request's images; retried while Slack is busy or unreachable."""
        request = self._store.get_request(job.request_id or 0)
        if request is None or request.state != "fetching":
            return None
        images: list[str] = []
        failed: list[str] = []
        auth = {"Authorization": f"Bearer {self._token}"}
        client = httpx.Client(headers=auth, timeout=15.0, follow_redirects=True, transport=self._transport)
        with client as http:
            for ref in request.options.get("files", []):
                try:
                    images.append(self._download(http, ref))
                except _TryAgain as exc:
                    if job.attempts + 1 < FETCH_ATTEMPTS:
                        return Retry(f"image download failed ({exc})", RETRY_SECONDS)
                    failed.append(f"{ref['name']} (could not be downloaded)")
                except _Unusable as exc:
                    failed.append(f"{ref['name']} ({exc})")
        prompt = request.prompt + not_sent_note(failed)
        self._store.files_fetched(request.id, images=images, prompt=prompt, now=self._clock.now())
        return None

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
