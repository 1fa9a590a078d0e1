"""The bot as a separate process under measurement: started with environment variables like an
operator starts it, its CPU time and peak memory read from /proc (Linux), stopped with SIGTERM; and
the machine's CPU time taken by the hypervisor meanwhile."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bot.config import Settings
from tests.subprocess_app import SubprocessApp, bot_env, free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BotProcess(SubprocessApp):
    """The bot in its own process (tests.subprocess_app), with its CPU time and peak memory."""

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


class BotReplicas:
    """`count` bot processes sharing one database, each on its own port, logging in its own folder
    under `workdir` (`workdir` itself for one)."""

    def __init__(self, settings: dict[str, str], workdir: Path, count: int, module: str = "bot.cli") -> None:
        folders = [workdir] if count == 1 else [workdir / f"replica-{n}" for n in range(count)]
        for folder in folders:
            folder.mkdir(exist_ok=True)
        self.bots = [BotProcess(settings, folder, free_port(), module=module) for folder in folders]

    @property
    def urls(self) -> list[str]:
        return [bot.url for bot in self.bots]

    def start(self, timeout: float) -> BotReplicas:
        """Start every process at once, then wait until each answers."""
        for bot in self.bots:
            bot.spawn()
        for bot in self.bots:
            bot.wait_ready(timeout)
        return self

    def cpu_seconds(self) -> float:
        """CPU time of all processes together."""
        return sum(bot.cpu_seconds() for bot in self.bots)

    def peak_rss_mb(self) -> list[float]:
        """Each process's peak resident memory."""
        return [bot.peak_rss_mb() for bot in self.bots]

    def stop(self) -> None:
        for bot in self.bots:
            bot.stop()


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
