"""`codegen-slack serve` as a real process, the way an operator runs it: started with environment
variables, killed or stopped with a signal, restarted on the same database and port, its output kept.

Signed Slack requests go to it with the same `command()` / `event()` helpers as the in-process app.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.harness import SIGNING_SECRET, AppUnderTest, sign

REPO = Path(__file__).resolve().parent.parent
# Settings of the environment the tests run in must not reach the bot under test.
INHERITED_PREFIXES = ("SLACK_", "CODEGEN_")
INHERITED_NAMES = frozenset({"LOG_LEVEL", "PORT"})


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(codegen: Any, slack: Any, db_path: Path, **overrides: object) -> dict[str, str]:
    """Environment variables that point the bot at the test servers (overrides by setting name)."""
    env = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "CODEGEN_API_TOKEN": codegen.token,
        "CODEGEN_ORG_ID": str(codegen.org_id),
        "CODEGEN_API_BASE_URL": codegen.url,
        "CODEGEN_SLACK_DB": str(db_path),
        "CODEGEN_SLACK_POLL_SECONDS": "0.2",
        "CODEGEN_TIMEOUT_SECONDS": "5",
    }
    env.update({name.upper(): str(value) for name, value in overrides.items()})
    return env


def run_cli(
    args: list[str], env: dict[str, str], workdir: Path, timeout: float = 30
) -> subprocess.CompletedProcess:
    """Run `python -m bot.cli ARGS` to the end; stdout and stderr are captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=workdir,
        env=_process_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _process_env(env: dict[str, str]) -> dict[str, str]:
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(INHERITED_PREFIXES) and name not in INHERITED_NAMES
    }
    path = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH", "")) if p)
    return {**base, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **env}


class SubprocessApp:
    """The bot (`python -m MODULE serve`) in its own process on 127.0.0.1:`port`, working in `workdir`
    (no .env there)."""

    command = AppUnderTest.command
    event = AppUnderTest.event

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        port: int | None = None,
        module: str = "bot.cli",
        port_flag: bool = True,
    ) -> None:
        """`port_flag=False` leaves the port to the PORT setting (environment or .env) instead of --port."""
        self.env = env
        self.port_flag = port_flag
        self.module = module
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "bot-output.log"
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.starts = 0
        self._events = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The process id of the running (or last) process; None before the first start."""
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 20.0) -> SubprocessApp:
        """Start `serve` and wait until /healthz answers."""
        return self.spawn().wait_ready(timeout)

    def spawn(self) -> SubprocessApp:
        """Start `serve` without waiting for it (start several at once, then `wait_ready` each)."""
        flags = ["--host", "127.0.0.1"] + (["--port", str(self.port)] if self.port_flag else [])
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", self.module, "serve", *flags],
                cwd=self.workdir,
                env=_process_env(self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        return self

    def wait_ready(self, timeout: float = 20.0) -> SubprocessApp:
        """Wait until /healthz answers; fails with the bot's output if it exits or stays silent."""
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {self._proc.returncode}:\n{self.output()[-3000:]}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.02)
        raise RuntimeError(f"the bot did not answer within {timeout} s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, nothing is flushed or drained."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit; returns the exit status."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGTERM)
        return self._proc.wait(timeout)

    def stop(self) -> None:
        """End the process however it is (used at teardown)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.http.close()

    def post(self, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST raw bytes to /slack/events, signed with the bot's signing secret (or with `headers`)."""
        signed = headers if headers is not None else sign(body, secret=self.env["SLACK_SIGNING_SECRET"])
        return self.http.post("/slack/events", content=body, headers={"Content-Type": content_type, **signed})

    def output(self) -> str:
        """Everything the process printed (stdout and stderr) since the first start."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
