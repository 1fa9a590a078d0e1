"""One serving process per SQLite file: `serve` holds an exclusive lock on `<file>.lock` for as long
as it runs (the kernel drops it when the process ends, however it ends)."""

from __future__ import annotations

import fcntl
import os


class AnotherProcess(Exception):
    """This SQLite file may not be served here: another process serves it, or its data was moved."""


class FileLock:
    """A held lock; `release()` lets go of it."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @property
    def released(self) -> bool:
        """Whether this lock holds nothing (any more)."""
        return self._fd is None

    def release(self) -> None:
        """Let another process serve the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def hold_file_lock(path: str) -> FileLock:
    """Lock SQLite file `path` for this process. Raises AnotherProcess, with what to do instead, when
    another process holds it."""
    if path == ":memory:":
        return FileLock(None)
    # The file's real path: two names of one file (a symlink, a relative path) take one lock.
    fd = os.open(f"{os.path.realpath(path)}.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise AnotherProcess(
            f"another codegen-slack process already serves {path}. A SQLite file takes one process; "
            "to run several replicas, set CODEGEN_SLACK_DB to a postgresql:// URL (README: Run several "
            "replicas) and move the data with `codegen-slack migrate-db --to postgresql://…`"
        ) from None
    return FileLock(fd)


def is_locked(path: str) -> bool:
    """Whether a process serves SQLite file `path` now."""
    try:
        hold_file_lock(path).release()
    except AnotherProcess:
        return True
    return False
