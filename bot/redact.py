"""Keeps secrets out of every log line, whoever writes it, including uncaught exceptions and warnings."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from urllib.parse import quote

from pythonjsonlogger.json import JsonFormatter
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

MASK = "[redacted]"
MIN_SECRET_CHARS = 6
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("codegen_slack")


def _variants(secret: str) -> set[str]:
    """The secret as it may be written: plain, without the whitespace a paste may have added (an
    error message may show that whitespace escaped), URL-encoded, and escaped inside a JSON string."""
    return {
        form
        for value in (secret, secret.strip())
        for form in (value, quote(value, safe=""), json.dumps(value)[1:-1])
    }


class RedactSecrets(logging.Filter):
    """Replaces each known secret in a record's final message (and traceback) with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        known = {v for s in secrets if s for v in _variants(s) if len(v) >= MIN_SECRET_CHARS}
        self._secrets = sorted(known, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that don't fit the format: keep both, masked
            message = f"{record.msg} {record.args!r}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(message), None
        if record.exc_text:
            # Formatters print exc_text when exc_info is gone: only the masked text is left to print.
            record.exc_text, record.exc_info = self.redact(record.exc_text), None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def redact(self, text: str) -> str:
        """`text` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def configure_logging(level: str, secrets: Iterable[str], log_format: str = "text") -> None:
    """Log to stderr at `level`, as text or one JSON object per line (`log_format="json"`), with
    secrets masked on every handler; uncaught exceptions (in any thread) and warnings are logged
    too, so they pass the same mask. httpx's line per request is DEBUG, not INFO."""
    handler = logging.StreamHandler()
    if log_format == "json":
        fields = TEXT_FORMAT.replace(": ", " ")
        handler.setFormatter(JsonFormatter(fields, rename_fields={"levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.getLogger("httpx").addFilter(_requests_at_debug)
    logging.getLogger("slack_bolt.App").addFilter(_not_bolt_token_notice)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _requests_at_debug(record: logging.LogRecord) -> bool:
    """httpx logs every request at INFO; keep them for LOG_LEVEL=DEBUG only."""
    if record.levelno == logging.INFO:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def _not_bolt_token_notice(record: logging.LogRecord) -> bool:
    """Bolt notes that SLACK_BOT_TOKEN (which it reads by itself) is unused when it is given a client:
    that is intended here, so the notice is dropped."""
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    log.critical("uncaught exception", exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread else "?"
    log.critical(
        "uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback)
    )  # type: ignore[arg-type]
