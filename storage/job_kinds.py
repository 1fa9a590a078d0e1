"""The kinds of job, their keys and their order, and how storage arms them inside its own transactions
(a change and the job that shows it are written together, so neither is ever lost without the other).

Lower priority numbers run first: telling people about failures, then results, then what people
asked for, then status messages, then Home tabs and live progress.
"""

from __future__ import annotations

from storage.jobs import NOTICE_KIND, arm
from storage.tx import Tx

NOTICE = NOTICE_KIND
ANNOUNCE, FINISH_DM = "announce", "finish_dm"
CREATE, RESUME, STEPS, IMAGES, REPLY, REPOS = "create", "resume", "steps", "images", "reply", "repos"
CARD, REFRESH, HOME, PROGRESS, QUEUE = "card", "refresh", "home", "progress", "queue"
HOUSEKEEPING, PROBE = "housekeeping", "probe"
CODEGEN_MEMBERS = "codegen_members"  # the Codegen organization's member list (bot/codegen_members.py)
SESSION = "session"  # a run's Slack agent session: status, title, latest step as loading text
UNFURL_JOB = "unfurl"  # previews of Codegen run links posted in a message
WATCH, REACTION, SCHEDULES, SCHEDULE = "watch", "reaction", "schedules", "schedule"  # bot/triggers
PR_ACTION, SETUP, GROUP = "pr_action", "setup", "prompt_group"

PRIORITY = {
    NOTICE: 0,
    ANNOUNCE: 1,
    CREATE: 2,
    RESUME: 2,
    STEPS: 2,
    IMAGES: 2,
    REPLY: 2,
    REPOS: 2,
    PR_ACTION: 2,
    SETUP: 2,
    GROUP: 3,
    FINISH_DM: 3,
    QUEUE: 3,
    CARD: 4,
    SESSION: 5,
    UNFURL_JOB: 5,
    HOME: 6,
    PROGRESS: 7,
    REFRESH: 8,
    CODEGEN_MEMBERS: 8,
    HOUSEKEEPING: 9,
    PROBE: 9,
    WATCH: 2,
    REACTION: 2,
    SCHEDULE: 2,
    SCHEDULES: 5,
}

REQUEST_KINDS = {"create": CREATE, "resume": RESUME, "steps": STEPS, "setup": SETUP}
HOME_MIN_INTERVAL_SECONDS = 5.0  # a burst of changes to one person's runs costs one Home publish
REFRESH_SECONDS = 60.0  # a working run's card shows its elapsed time to the minute
POST_RESOURCE = "post:"  # + channel: the job posts there, within that channel's posting limit


def arm_request(db: Tx, kind: str, request_id: int, *, now: float, fetching: bool) -> None:
    """The job of a new request: download its images first when it has any, else its own kind."""
    job_kind = IMAGES if fetching else REQUEST_KINDS[kind]
    arm(db, job_kind, f"{job_kind}:{request_id}", now=now, priority=PRIORITY[job_kind], request_id=request_id)
    if job_kind == CREATE:  # the queue's messages say where it stands
        arm(db, QUEUE, QUEUE, now=now, priority=PRIORITY[QUEUE])


def wake_requests(db: Tx, where: str, params: tuple[object, ...], now: float) -> None:
    """Make the due-later jobs of the requests matching `where` (SQL over `requests`) due now; one
    running now is run again as soon as it ends (what it waits for may have come meanwhile)."""
    requests = f"request_id IN (SELECT id FROM requests WHERE {where})"
    db.execute(
        f"UPDATE jobs SET run_after = ? WHERE status IN ('queued', 'retrying') AND run_after > ?"
        f" AND {requests}",
        (now, now, *params),
    )
    db.execute(f"UPDATE jobs SET again = 1 WHERE status = 'running' AND {requests}", params)


def arm_card(db: Tx, run_id: int, *, now: float) -> None:
    """A run's status or pull requests changed: edit its card (and react, once it finished), and show
    its agent session's status."""
    arm(db, CARD, f"{CARD}:{run_id}", now=now, priority=PRIORITY[CARD], run_id=run_id)
    arm_session(db, run_id, now=now)


def arm_session(db: Tx, run_id: int, *, now: float) -> None:
    """Show the run's agent session as the run is now: processing, active or closed, and its step."""
    arm(db, SESSION, f"{SESSION}:{run_id}", now=now, priority=PRIORITY[SESSION], run_id=run_id)


def arm_announcement(
    db: Tx, run_id: int, finish: int, *, now: float, channel: str
) -> None:
    """Finish number `finish` of a run: post its result in the thread."""
    arm(
        db,
        ANNOUNCE,
        f"{ANNOUNCE}:{run_id}:{finish}",
        now=now,
        priority=PRIORITY[ANNOUNCE],
        run_id=run_id,
        resource=POST_RESOURCE + channel,
        payload={"finish": finish},
    )


def arm_watching(db: Tx, run_id: int, *, now: float) -> None:
    """A run that works: look up its latest step, and keep its card's elapsed time current."""
    arm(db, PROGRESS, f"{PROGRESS}:{run_id}", now=now, priority=PRIORITY[PROGRESS], run_id=run_id)
    arm_refresh(db, run_id, now=now, run_after=now + REFRESH_SECONDS)


def arm_refresh(
    db: Tx, run_id: int, *, now: float, run_after: float | None = None
) -> None:
    """Edit a working run's card for its elapsed time or latest step (within a smaller share of the
    edit limit than status changes get)."""
    arm(db, REFRESH, f"{REFRESH}:{run_id}", now=now, run_after=run_after, priority=PRIORITY[REFRESH],
        run_id=run_id)  # fmt: skip


def arm_home(db: Tx, user: str, *, now: float, not_before: float) -> None:
    """Republish `user`'s Home tab, not before `not_before`."""
    arm(db, HOME, f"{HOME}:{user}", now=now, run_after=max(now, not_before), priority=PRIORITY[HOME],
        payload={"user": user})  # fmt: skip
