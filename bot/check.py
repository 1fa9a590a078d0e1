"""`codegen-slack check`: calls Slack and Codegen with the configured credentials and says what works."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from bot.codegen import CodegenClient, CodegenError
from bot.config import Settings
from bot.slack_out import make_web_client


def run_checks(settings: Settings) -> int:
    """Print one line per check; 0 when all pass, 1 otherwise."""
    ok = True
    client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    try:
        auth = client.auth_test()
        print(f"Slack: ok — bot @{auth.get('user')} in workspace {auth.get('team')}")
    except SlackApiError as exc:
        ok = False
        print(f"Slack: FAILED — {exc.response.get('error')} (check SLACK_BOT_TOKEN)")
    except OSError as exc:
        ok = False
        print(f"Slack: FAILED — cannot reach {settings.slack_api_url} ({type(exc).__name__})")
    with CodegenClient(
        base_url=settings.codegen_api_base_url,
        token=settings.codegen_api_token.get_secret_value(),
        org_id=settings.codegen_org_id,
        max_attempts=2,
        timeout=settings.codegen_timeout_seconds,
    ) as codegen:
        try:
            me = codegen.me()
            print(f"Codegen: ok — signed in as {me.email or me.github_username or me.id}")
        except CodegenError as exc:
            ok = False
            print(f"Codegen: FAILED — {exc}")
    return 0 if ok else 1
