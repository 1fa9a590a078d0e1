"""The bot as a separate process under measurement: started with environment variables like an
operator starts it, its CPU time and peak memory read from /proc (Linux), stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings
from tests.subprocess_app import bot_env

REPO = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BotProcess:
    """`python -m MODULE ARGS` in `workdir` with the given settings; it must answer GET /healthz."""

    def __init__(
        self, module: str, args: list[str], settings: dict[str, str], workdir: Path, port: int
    ) -> None:
        self.command = [sys.executable, "-m", module, *args]
        self.settings = settings
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / f"{module.replace('.', '-')}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> BotProcess:
        """Start the process and wait until its health check answers."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CODEGEN_"))}
        env = {**inherited, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **self.settings}
        with self.log_path.open("ab") as out:
            self._proc = subprocess.Popen(
                self.command, cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self._proc.returncode}; see {self.log_path}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.command} did not answer within {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss_mb(self) -> float:
        """The most resident memory the process has had (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the exit (SIGKILL after `timeout`); returns the exit status."""
        if self._proc is None or self._proc.poll() is not None:
            return self._proc.returncode if self._proc else 0
        self._proc.send_signal(signal.SIGTERM)
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            return self._proc.wait()


def bot_settings(codegen: Any, slack: Any, db: Path) -> dict[str, str]:
    """The environment that points the bot at the test servers, with its default poll settings."""
    defaults = {
        name: Settings.model_fields[name].default
        for name in ("codegen_slack_poll_seconds", "codegen_timeout_seconds", "codegen_slack_watcher_share")
    }
    return bot_env(codegen, slack, db, log_level="WARNING", **defaults)


def cpu_ticks() -> tuple[int, int]:
    """(ticks stolen by the hypervisor, all ticks) of this machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7], sum(fields[:8])


def steal_since(before: tuple[int, int]) -> float:
    """The share of CPU time the hypervisor took from this machine since `before` (from cpu_ticks())."""
    steal, total = cpu_ticks()
    return (steal - before[0]) / max(1, total - before[1])
