"""Benchmark: the bot following N working runs that finish at random times.

The bot runs as its own process (`codegen-slack serve`, default settings) against the Codegen test
server with Codegen's real rate limits and the Slack test server with Slack's. The N runs are seeded
(the create limit does not apply to seeding) in Codegen, as status messages in 20 Slack channels and
in the bot's database, which also holds `--stored` old finished runs and their threads. The runs
then finish at random moments over `--window` seconds. On the same workload, the naive baseline
(`bench.naive`: one GET per run every 5 s, behind the same client-side limiter) runs too.

Per N it prints: notification latency, from a run finishing in Codegen to its result in the Slack
thread (and, separately, to the watcher recording the finish), p50 / p95 / max; Codegen calls per
route and limit class; 429 answers; Slack calls and Slack's 429s; the bot's CPU seconds (in all,
per second while watching N unchanged runs, per second idle after all finished) and peak RSS; and
the floor: one full sweep of N runs takes at least ceil(N/100) list calls at the watcher's share of
the standard limit.

With `--replicas K` (K > 1) the bot runs as K processes on one PostgreSQL database (`--db URL`, or
a throwaway server); each case then gets a new schema holding the same stored threads, and the
naive baseline, a single process, is left out.

    python -m bench.watch                        # N = 10, 100, 300, 1000 over 180 s: about an hour
    python -m bench.watch --n 100 --window 60    # one quick case
    python -m bench.watch --n 300 --replicas 3   # three replicas on a throwaway PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from slack_sdk import WebClient

from bench.databases import add_arguments, bench_server, case_database, check_arguments, query
from bench.proc import BotReplicas, bot_settings
from bench.stats import percentile, spread, table
from bot.config import Settings
from storage.dialect import is_postgresql_url
from storage.records import RunRecord
from storage.store import Store
from tests.servers.codegen_server import FIRST_RUN_ID, CodegenServer
from tests.servers.slack_server import SlackServer

CHANNELS = [f"C0BENCH{n:02d}" for n in range(20)]
USERS = [f"U0BENCH{n:03d}" for n in range(50)]
CALLS_PER_30S = 60
WARM_UP_SECONDS = 5.0


@dataclass
class Outcome:
    """What one run of the workload measured."""

    variant: str
    n: int
    database: str  # "sqlite", or "postgresql x K" (K replicas)
    posted: list[float]  # run finished in Codegen -> result posted in its thread, seconds
    seen: list[float]  # run finished in Codegen -> the bot recorded it, seconds
    unannounced: int
    codegen_routes: dict[str, int]
    codegen_classes: dict[str, int]
    codegen_429: int
    slack_methods: dict[str, int]  # the bot's calls (not the seeding)
    slack_429: int
    cpu_seconds: float  # of all replicas together, as are the two below
    cpu_watching: float  # CPU seconds per second while N runs work and nothing changes
    cpu_idle: float  # CPU seconds per second once every run has finished
    peak_rss_mb: float  # of the replica that used the most


def floor_seconds(n: int, share: float) -> float:
    """The shortest possible full sweep: ceil(n/100) list calls at the watcher's share of the limit."""
    return math.ceil(n / 100) / (math.floor(share * CALLS_PER_30S) / 30)


def build_template(path: Path, stored: int) -> None:
    """A database holding `stored` old finished and announced runs, each with its thread (ids below
    Codegen's)."""
    store = Store(str(path))
    now = time.time()
    for i in range(stored):
        ts = f"{now - 86_400 - i:.6f}"
        store.add_run(
            RunRecord(
                run_id=FIRST_RUN_ID - 1 - i,
                channel=CHANNELS[i % len(CHANNELS)],
                thread_ts=ts,
                requester=USERS[i % len(USERS)],
                prompt="an old task",
                status="COMPLETE",
                result="Done.",
                status_ts=ts,
                shown_status="COMPLETE",
                created_at=now - 90_000 - i,
                changed_at=now - 86_400 - i,
            )
        )
        store.mark_announced(FIRST_RUN_ID - 1 - i, 1)
    store.close()


def start_slack() -> SlackServer:
    slack = SlackServer().start()
    for user in USERS:
        slack.add_user(user, user.lower())
    for channel in CHANNELS:
        slack.add_channel(channel, name=channel.lower(), members=USERS)
    return slack


def seed(codegen: CodegenServer, slack: SlackServer, db: str, n: int) -> dict[str, int]:
    """N working runs in Codegen, as status messages in Slack and in the bot's database; returns
    thread ts -> run id."""
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    slack.rate_limits_enabled = False
    store = Store(db)
    threads = {}
    now = time.time()
    for i in range(n):
        channel, user = CHANNELS[i % len(CHANNELS)], USERS[i % len(USERS)]
        run = codegen.add_run(status="ACTIVE", prompt=f"task {i}")
        ts = web.chat_postMessage(channel=channel, text=f"Codegen run #{run['id']}: ACTIVE")["ts"]
        store.add_run(
            RunRecord(
                run_id=run["id"],
                channel=channel,
                thread_ts=ts,
                requester=user,
                prompt=f"task {i}",
                web_url=run["web_url"],
                status_ts=ts,
                shown_status="ACTIVE",
                created_at=now,
                changed_at=now,
            )
        )
        store.mark_shown(run["id"], "ACTIVE", now)
        threads[ts] = run["id"]
    store.close()
    slack.rate_limits_enabled = True
    return threads


def finish_runs(
    codegen: CodegenServer, run_ids: list[int], window: float, rng: random.Random
) -> dict[int, float]:
    """Finish each run at a random moment within `window` seconds (in a thread); returns run id ->
    the time it finished (filled in as they do)."""
    finished: dict[int, float] = {}
    start = time.time()
    plan = sorted((rng.uniform(0, window), run_id) for run_id in run_ids)

    def work() -> None:
        for at, run_id in plan:
            time.sleep(max(0.0, start + at - time.time()))
            result = f"Finished task for run {run_id}: changed `settings.py` and added a test."
            if run_id % 5 == 0:
                codegen.add_pull_request(
                    run_id, title=f"Fix {run_id}", url=f"https://github.com/acme/web/pull/{run_id}"
                )
            codegen.set_status(run_id, "COMPLETE", result=result, summary="Done.")
            finished[run_id] = time.time()

    threading.Thread(target=work, name="finisher", daemon=True).start()
    return finished


def first_thread_posts(slack: SlackServer, threads: dict[str, int]) -> dict[int, float]:
    """Run id -> when the bot first posted in the run's thread."""
    posted: dict[int, float] = {}
    for call in list(slack.calls):
        if call.method == "chat.postMessage" and call.ok:
            run_id = threads.get(str(call.params.get("thread_ts")))
            if run_id is not None and run_id not in posted:
                posted[run_id] = call.at
    return posted


def recorded_finishes(db: str) -> dict[int, float]:
    """Run id -> when the bot recorded the run as finished (read-only)."""
    sql = "SELECT run_id, finished_at FROM runs WHERE run_id >= ? AND finished_at IS NOT NULL"
    return dict(query(db, sql, (FIRST_RUN_ID,)))


def run_case(variant: str, n: int, args: argparse.Namespace, template: Path, server: str | None) -> Outcome:
    """Seed, start the bot, finish the runs over the window, wait for every announcement, measure."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-watch-{variant}-{n}-"))
    with case_database(server, workdir, template) as db:
        return measure(variant, n, args, workdir, db)


def measure(variant: str, n: int, args: argparse.Namespace, workdir: Path, db: str) -> Outcome:
    """One case on its database `db` (seeded here): the figures of `Outcome`."""
    codegen = CodegenServer(validate=False).start()
    slack = start_slack()
    threads = seed(codegen, slack, db, n)
    seeding_calls = len(slack.calls)
    settings = bot_settings(codegen, slack, db)
    module = "bench.naive" if variant == "naive" else "bot.cli"
    bot = BotReplicas(settings, workdir, args.replicas, module=module).start(timeout=60)
    try:
        time.sleep(WARM_UP_SECONDS)
        before = bot.cpu_seconds()
        time.sleep(args.settle)
        cpu_watching = (bot.cpu_seconds() - before) / args.settle
        finished = finish_runs(codegen, list(threads.values()), args.window, random.Random(args.seed + n))
        share = Settings.model_fields["codegen_slack_watcher_share"].default
        naive_sweep = n / (math.floor(share * CALLS_PER_30S) / 30)
        deadline = time.time() + args.window + 1.5 * max(naive_sweep, floor_seconds(n, share)) + 60
        while time.time() < deadline and len(first_thread_posts(slack, threads)) < n:
            time.sleep(1.0)
        time.sleep(2.0)
        before = bot.cpu_seconds()
        time.sleep(args.settle)
        cpu_idle = (bot.cpu_seconds() - before) / args.settle
        cpu_total, peak = bot.cpu_seconds(), bot.peak_rss_mb()
    finally:
        bot.stop()
        codegen.stop()
        slack.close()
    posted = first_thread_posts(slack, threads)
    recorded = recorded_finishes(db)
    calls = codegen.calls
    outcome = Outcome(
        variant=variant,
        n=n,
        database=f"postgresql x {args.replicas}" if is_postgresql_url(db) else "sqlite",
        posted=[posted[r] - finished[r] for r in posted if r in finished],
        seen=[recorded[r] - finished[r] for r in recorded if r in finished],
        unannounced=n - len(posted),
        codegen_routes=dict(Counter(c.route for c in calls)),
        codegen_classes=dict(Counter(c.limit_class for c in calls)),
        codegen_429=sum(c.status == 429 for c in calls),
        slack_methods=dict(Counter(c.method for c in slack.calls[seeding_calls:])),
        slack_429=sum(c.error == "ratelimited" for c in slack.calls),
        cpu_seconds=cpu_total,
        cpu_watching=cpu_watching,
        cpu_idle=cpu_idle,
        peak_rss_mb=max(peak),
    )
    if args.keep:
        print(f"N={n} {variant}: the bots' logs (and a SQLite database) are in {workdir}", flush=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def report(outcomes: list[Outcome], share: float) -> str:
    rows = [
        [
            "N",
            "bot",
            "database",
            "floor s",
            "target p95 s",
            "posted p50/p95/max s",
            "recorded p50/p95/max s",
            "missed",
            "Codegen calls (me/list/get/logs)",
            "429",
            "Slack update/post/react",
            "Slack 429",
            "CPU s",
            "CPU watching",
            "CPU idle",
            "peak RSS MB",
        ]
    ]
    for o in outcomes:
        floor = floor_seconds(o.n, share)
        routes = o.codegen_routes
        methods = o.slack_methods
        rows.append(
            [
                str(o.n),
                o.variant,
                o.database,
                f"{floor:.2f}",
                f"{1.5 * floor + 1:.2f}",
                spread(o.posted),
                spread(o.seen),
                str(o.unannounced),
                "/".join(str(routes.get(r, 0)) for r in ("me", "list_runs", "get_run", "logs")),
                str(o.codegen_429),
                "/".join(
                    str(methods.get(m, 0)) for m in ("chat.update", "chat.postMessage", "reactions.add")
                ),
                str(o.slack_429),
                f"{o.cpu_seconds:.1f}",
                f"{o.cpu_watching:.3f}",
                f"{o.cpu_idle:.3f}",
                f"{o.peak_rss_mb:.0f}",
            ]
        )
    lines = [table(rows), ""]
    by_case = {(o.variant, o.n): o for o in outcomes}
    for o in outcomes:
        naive = by_case.get(("naive", o.n))
        if o.variant == "watcher" and naive and o.posted and naive.posted:
            ratio = percentile(naive.posted, 95) / percentile(o.posted, 95)
            seen_ratio = percentile(naive.seen, 95) / percentile(o.seen, 95)
            lines.append(f"N={o.n}: naive / watcher at p95: {ratio:.1f}x posted, {seen_ratio:.1f}x recorded")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--n", type=int, nargs="+", default=[10, 100, 300, 1000], help="working runs per case"
    )
    parser.add_argument("--window", type=float, default=180.0, help="seconds over which the runs finish")
    parser.add_argument("--stored", type=int, default=100_000, help="old finished runs in the database")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of each CPU measurement")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the naive baseline (always, with --replicas)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep each bot's log and database")
    add_arguments(parser)
    args = parser.parse_args()
    check_arguments(parser, args)
    share = Settings.model_fields["codegen_slack_watcher_share"].default
    alone = args.no_baseline or args.replicas > 1
    with (
        tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp,
        bench_server(args.db, args.replicas) as server,
    ):
        template = Path(tmp) / "template.db"
        started = time.time()
        build_template(template, args.stored)
        print(
            f"database with {args.stored} stored threads built in {time.time() - started:.0f} s", flush=True
        )
        outcomes = []
        for n in args.n:
            for variant in ("watcher",) if alone else ("watcher", "naive"):
                started = time.time()
                outcomes.append(run_case(variant, n, args, template, server))
                print(f"N={n} {variant}: done in {time.time() - started:.0f} s", flush=True)
    print()
    print(report(outcomes, share))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))


if __name__ == "__main__":
    main()
