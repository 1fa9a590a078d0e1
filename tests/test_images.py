"""Images attached in Slack reach the run as data URIs (size- and count-capped); other files are named."""

from __future__ import annotations

import base64

from bot.images import MAX_IMAGE_BYTES, MAX_IMAGES, sort_attachments
from tests.harness import AppUnderTest, wait_for
from tests.servers.codegen_server import CodegenServer
from tests.servers.slack_server import SlackServer

GENERAL, ALICE, BOT = "C0GENERAL", "U0ALICE", "UBOT"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64


def data_uri(mimetype: str, content: bytes) -> str:
    return f"data:{mimetype};base64,{base64.b64encode(content).decode()}"


def mention_with_files(
    app: AppUnderTest, slack: SlackServer, text: str, files: list[dict], thread_ts: str | None = None
) -> dict:
    ts = slack.post_as_user(GENERAL, ALICE, f"<@{BOT}> {text}", thread_ts=thread_ts)
    event = {
        "type": "app_mention",
        "channel": GENERAL,
        "user": ALICE,
        "text": f"<@{BOT}> {text}",
        "ts": ts,
        "files": files,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    app.event(event)
    return event


def test_only_allowed_images_within_the_caps_are_sent() -> None:
    def file(name: str, mimetype: str, size: int = 10) -> dict:
        return {
            "name": name,
            "mimetype": mimetype,
            "size": size,
            "url_private": f"https://files.slack.com/{name}",
        }

    files = [
        file("a.png", "image/png"),
        file("b.jpg", "image/jpeg"),
        file("c.gif", "image/gif"),
        file("d.webp", "image/webp"),
        file("e.svg", "image/svg+xml"),
        file("f.pdf", "application/pdf"),
        file("big.png", "image/png", MAX_IMAGE_BYTES + 1),
    ]
    files += [file(f"more{i}.png", "image/png") for i in range(MAX_IMAGES)]
    sorted_files = sort_attachments(files)
    assert [f["name"] for f in sorted_files.fetch] == ["a.png", "b.jpg", "c.gif", "d.webp", "more0.png"]
    for named in (
        "e.svg (image/svg+xml)",
        "f.pdf (application/pdf)",
        "big.png (an image over 5 MB)",
        "more1.png (more than 5 images)",
    ):
        assert named in sorted_files.note


def test_images_in_a_mention_reach_the_run_as_data_uris(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    files = [
        slack_server.add_file("screenshot.png", PNG, "image/png"),
        slack_server.add_file("photo.jpg", JPEG, "image/jpeg"),
        slack_server.add_file("spec.pdf", b"%PDF-1.7", "application/pdf"),
        {
            **slack_server.add_file("elsewhere.png", PNG, "image/png"),
            "url_private": "https://example.com/elsewhere.png",
        },
    ]
    mention_with_files(app, slack_server, "the layout breaks like this", files)
    run = wait_for(codegen_api.runs, what="the run")[0]
    inputs = codegen_api.run_inputs(run["id"])
    assert inputs["images"] == [data_uri("image/png", PNG), data_uri("image/jpeg", JPEG)]
    assert inputs["prompt"].startswith("the layout breaks like this")
    assert "spec.pdf (application/pdf)" in inputs["prompt"]
    assert "elsewhere.png (not a Slack file)" in inputs["prompt"]  # the bot token goes only to Slack


def test_an_image_alone_starts_a_run(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    mention_with_files(app, slack_server, "", [slack_server.add_file("bug.png", PNG, "image/png")])
    run = wait_for(codegen_api.runs, what="the run")[0]
    inputs = codegen_api.run_inputs(run["id"])
    assert (
        inputs["images"] == [data_uri("image/png", PNG)] and inputs["prompt"] == "Look at the attached image."
    )


def test_images_in_a_thread_follow_up_go_with_the_resume(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    first = mention_with_files(app, slack_server, "fix the header", [])
    run_id = wait_for(codegen_api.runs, what="the run")[0]["id"]
    wait_for(lambda: app.bot.store.get_run(run_id), what="the run stored")
    codegen_api.set_status(run_id, "COMPLETE", result="Done.")
    wait_for(lambda: app.bot.store.get_run(run_id).finished, what="the run seen finished")
    image = slack_server.add_file("still-broken.png", PNG, "image/png")
    ts = slack_server.post_as_user(GENERAL, ALICE, "still broken", thread_ts=first["ts"])
    app.event(
        {
            "type": "message",
            "subtype": "file_share",
            "channel": GENERAL,
            "channel_type": "channel",
            "user": ALICE,
            "text": "still broken",
            "ts": ts,
            "thread_ts": first["ts"],
            "files": [image],
        }
    )
    resumes = wait_for(lambda: codegen_api.run_inputs(run_id)["resumes"], what="the resume")
    assert resumes[0]["prompt"] == "still broken" and resumes[0]["images"] == [data_uri("image/png", PNG)]


def test_an_image_slack_will_not_hand_over_is_named_instead(
    app: AppUnderTest, codegen_api: CodegenServer, slack_server: SlackServer
) -> None:
    image = slack_server.add_file("secret.png", PNG, "image/png")
    image["url_private"] = image["url_private"].replace("/files/", "/files/missing-")
    mention_with_files(app, slack_server, "look", [image])
    run = wait_for(codegen_api.runs, what="the run")[0]
    inputs = codegen_api.run_inputs(run["id"])
    assert not inputs["images"] and "secret.png (Slack answered HTTP 404)" in inputs["prompt"]
