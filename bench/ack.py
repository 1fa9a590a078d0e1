"""Benchmark: how fast the bot acknowledges Slack under load, and that no request is lost.

`--requests` signed requests (slash commands, @mentions and DMs in turn) go at `--rate` a second to
`codegen-slack serve`, started as its own process in HTTP mode with its settings pointing at the
Codegen and Slack test servers, which run in this process. Codegen's create takes 2 s and keeps its
real limit of 10 a minute, so nearly every request has to wait in the queue. Prints the ack latency
(request sent -> HTTP answer) p50 / p99 / max, then checks, in the bot's database (read-only) and in
the Codegen test server, that every request became exactly one queued or created run.

With `--replicas K` the bot runs as K processes on one PostgreSQL database (`--db URL`, or a
throwaway server) and the requests go to them in turn, as a load balancer spreads them.

    python -m bench.ack                             # 1,000 requests at 100/s
    python -m bench.ack --requests 300 --drain 10   # quick
    python -m bench.ack --replicas 3                # spread over three replicas on PostgreSQL
"""

from __future__ import annotations

import argparse
import gc
import itertools
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.databases import add_arguments, bench_server, case_database, check_arguments, query
from bench.proc import BotReplicas, bot_settings, cpu_ticks, steal_since
from bench.stats import percentile
from tests.harness import AppUnderTest
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

CHANNELS = [f"C0LOAD{n:02d}" for n in range(20)]
USERS = [f"U0LOAD{n:03d}" for n in range(100)]
CREATE_SECONDS = 2.0
SENDERS = 8


class Sender:
    """Signs and sends requests the way Slack does (the test harness's helpers), on its own connection."""

    command = AppUnderTest.command
    event = AppUnderTest.event
    post = AppUnderTest.post

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self._events = 0


@dataclass
class Load:
    """The requests to send and what came back."""

    total: int
    rate: float
    bot_user: str
    keys: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)  # how far behind schedule each request went out
    message_ts: dict[int, str] = field(default_factory=dict)
    failures: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def write_messages(self, slack: SlackServer) -> None:
        """The people's messages that the @mentions and DMs are about, as Slack holds them."""
        for i in range(self.total):
            user, channel = USERS[i % len(USERS)], CHANNELS[i % len(CHANNELS)]
            if i % 3 == 1:
                self.message_ts[i] = slack.post_as_user(channel, user, f"<@{self.bot_user}> task {i}")
            elif i % 3 == 2:
                self.message_ts[i] = slack.post_as_user(dm_channel(user), user, f"task {i}")

    def send(self, sender: Sender, i: int) -> tuple[str, httpx.Response]:
        """Request number `i`: a slash command, an @mention or a DM; returns its key and the answer."""
        user, channel = USERS[i % len(USERS)], CHANNELS[i % len(CHANNELS)]
        ts = self.message_ts.get(i, "")
        if i % 3 == 0:
            trigger = f"{i}.{time.time_ns()}.bench"
            return f"command:{trigger}", sender.command(
                f"task {i}", user=user, channel=channel, trigger_id=trigger
            )
        if i % 3 == 1:
            text = f"<@{self.bot_user}> task {i}"
            event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel}
            return f"message:{channel}:{ts}", sender.event(event, event_id=f"EvLoad{i}")
        dm = dm_channel(user)
        event = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": f"task {i}",
            "ts": ts,
            "channel": dm,
        }
        return f"message:{dm}:{ts}", sender.event(event, event_id=f"EvLoad{i}")

    def run(self, urls: list[str]) -> None:
        """Send every request on schedule from a few threads, request i to `urls[i % len(urls)]`;
        record latency and lateness."""
        numbers = itertools.count()
        start = time.perf_counter() + 0.5

        def work() -> None:
            senders = [Sender(url) for url in urls]
            while (i := next(numbers)) < self.total:
                sender = senders[i % len(senders)]
                due = start + i / self.rate
                time.sleep(max(0.0, due - time.perf_counter()))
                sent = time.perf_counter()
                try:
                    key, response = self.send(sender, i)
                    outcome = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    key, outcome = "", type(exc).__name__
                done = time.perf_counter()
                with self._lock:
                    self.keys.append(key)
                    self.latencies.append(done - sent)
                    self.late.append(sent - due)
                    if outcome:
                        self.failures[outcome] += 1
            for sender in senders:
                sender.http.close()

        threads = [threading.Thread(target=work, name=f"sender-{n}") for n in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def dm_channel(user: str) -> str:
    return "D" + user[1:]


def start_slack() -> SlackServer:
    slack = SlackServer().start()
    for user in USERS:
        slack.add_user(user, user.lower())
        slack.add_channel(dm_channel(user), name=f"dm-{user.lower()}", members=[user])
    for channel in CHANNELS:
        slack.add_channel(channel, name=channel.lower(), members=USERS)
    return slack


def check_database(db: str, keys: list[str], codegen: CodegenServer) -> list[str]:
    """Each sent request recorded once, queued or made into exactly one run; returns the findings."""
    rows = query(db, "SELECT key, state, run_id FROM requests WHERE kind = 'create'")
    shown = query(
        db,
        "SELECT COUNT(*) FROM requests WHERE kind = 'create' AND state = 'pending' AND status_ts IS NOT NULL",
    )[0][0]
    states = Counter(state for _, state, _ in rows)
    recorded = Counter(key for key, _, _ in rows)
    run_ids = [run_id for _, state, run_id in rows if state == "done"]
    runs = codegen.runs()
    run_keys = Counter((r.get("metadata") or {}).get("codegen_slack_key") for r in runs)
    by_key = {key: run_id for key, state, run_id in rows if state == "done"}
    findings = [
        f"requests sent: {len(keys)}, recorded: {len(rows)} ({dict(states)})",
        f"every request recorded exactly once: {set(recorded) == set(keys) and max(recorded.values()) == 1}",
        f"queued (pending) or created (done), none failed: {set(states) <= {'pending', 'done'}}",
        f"queued requests whose queued message is in Slack by now: {shown} of {states['pending']}",
        f"runs in Codegen: {len(runs)}; each made by one request, none twice: "
        f"{len(set(run_ids)) == len(run_ids) == len(runs) and max(run_keys.values(), default=1) == 1}",
        f"each created run belongs to its request: "
        f"{all(by_key.get(r['metadata']['codegen_slack_key']) == r['id'] for r in runs)}",
    ]
    return findings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="requests a second")
    parser.add_argument(
        "--drain", type=float, default=30.0, help="seconds to let the bot work after the load"
    )
    add_arguments(parser)
    args = parser.parse_args()
    check_arguments(parser, args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ack-"))
    with bench_server(args.db, args.replicas) as server, case_database(server, workdir) as db:
        measure(args, workdir, db)


def measure(args: argparse.Namespace, workdir: Path, db: str) -> None:
    """Start the bot's replicas on `db`, send the load, print the figures."""
    codegen = CodegenServer(validate=False).start()
    codegen.delay_next(10 * args.requests, CREATE_SECONDS, path="create_run")
    slack = start_slack()
    settings = bot_settings(codegen, slack, db)
    bot = BotReplicas(settings, workdir, args.replicas).start(timeout=60)
    try:
        for url in bot.urls:
            warm = Sender(url)
            warm.command("help")  # the first request also looks up who the bot is
            warm.http.close()
        load = Load(args.requests, args.rate, slack.bot_user_id)
        load.write_messages(slack)
        started, ticks = time.perf_counter(), cpu_ticks()
        gc.disable()  # this process's own collection pauses are not the bot's latency
        load.run(bot.urls)
        gc.enable()
        took, steal = time.perf_counter() - started - 0.5, steal_since(ticks)
        time.sleep(args.drain)
        cpu, peak = bot.cpu_seconds(), bot.peak_rss_mb()
    finally:
        bot.stop()
        codegen.stop()
        slack.close()
    ms = [latency * 1000 for latency in load.latencies]
    print(
        f"{args.requests} requests in {took:.1f} s ({args.requests / took:.0f}/s), {SENDERS} senders;"
        f" CPU time taken by the hypervisor meanwhile: {steal:.0%}"
    )
    print(
        f"ack latency ms: p50 {percentile(ms, 50):.1f}  p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}"
        f"  (sent behind schedule: p99 {percentile(load.late, 99) * 1000:.1f} ms)"
    )
    print(f"failed answers: {dict(load.failures) or 'none'}")
    for finding in check_database(db, load.keys, codegen):
        print(finding)
    print(
        f"Codegen calls: {dict(Counter(c.route for c in codegen.calls))}, 429s: {codegen.count(status=429)}"
    )
    slack_calls = Counter(c.method for c in slack.calls)
    print(f"Slack calls: {dict(slack_calls)}, 429s: {sum(c.error == 'ratelimited' for c in slack.calls)}")
    each = ", ".join(f"{mb:.0f}" for mb in peak)
    print(f"bot CPU {cpu:.1f} s ({args.replicas} replica(s) together), peak RSS MB per replica: {each}")


if __name__ == "__main__":
    main()
