"""How well each way of posting agent results keeps their words and links, over tests/golden/.

Run: python -m bench.render_choice (needs the candidate converters: pip install markdown-to-mrkdwn
slackify-markdown). For each candidate and each golden result: are all words of the input in what is
posted, and which of the input's URLs are links in what is posted. The `markdown` candidate is what
the bot posts (bot.render.markdown: Slack's markdown and table blocks); the others are mrkdwn
converters whose output would go into section blocks.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from bot.render.markdown import trim_url
from tests.render_checks import PARSER, input_urls, posted_links, posted_words, words

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
MRKDWN_LINK_RE = re.compile(r"<([^<>|\s]+)(?:\|[^<>]*)?>")
BARE_URL_RE = re.compile(r"(?<![\w/=\"'\]])(?<!\]\()https?://[^\s<>\[\]`|]+")


def _mrkdwn_candidate(convert: Callable[[str], str]) -> Callable[[str], tuple[set[str], str]]:
    def run(markdown: str) -> tuple[set[str], str]:
        out = convert(markdown)
        links = {html.unescape(m[1]) for m in MRKDWN_LINK_RE.finditer(out)}
        # Slack links bare URLs in mrkdwn text itself (text objects are not `verbatim`).
        bare = html.unescape(MRKDWN_LINK_RE.sub(" ", out))
        links |= {trim_url(m.group()) for m in BARE_URL_RE.finditer(bare)}
        return {PARSER.normalizeLink(link) for link in links}, html.unescape(out)

    return run


def _markdown_candidate(markdown: str) -> tuple[set[str], str]:
    from bot.render.markdown import markdown_blocks

    blocks = markdown_blocks(markdown)
    return posted_links(blocks), posted_words(blocks)


def candidates() -> dict[str, Callable[[str], tuple[set[str], str]]]:
    found: dict[str, Callable[[str], tuple[set[str], str]]] = {"markdown+table blocks": _markdown_candidate}
    try:
        from markdown_to_mrkdwn import SlackMarkdownConverter

        found["markdown-to-mrkdwn"] = _mrkdwn_candidate(SlackMarkdownConverter().convert)
    except ImportError:
        pass
    try:
        from slackify_markdown import slackify_markdown

        found["slackify-markdown"] = _mrkdwn_candidate(slackify_markdown)
    except ImportError:
        pass
    return found


def main() -> None:
    docs = sorted(GOLDEN.glob("*.md"))
    print(f"{len(docs)} golden results\n")
    print(f"{'candidate':24} {'all words kept':>15} {'URLs linked':>12}  issue's links")
    for name, render in candidates().items():
        whole = linked = total = 0
        issue_ok = False
        for doc in docs:
            text = doc.read_text(encoding="utf-8")
            links, shown = render(text)
            whole += words(text) <= words(shown)
            urls = input_urls(text)
            total += len(urls)
            linked += len(urls & links)
            if doc.name == "links_01.md":
                issue_ok = urls <= links
        issue = "both work" if issue_ok else "broken"
        print(f"{name:24} {whole:>9}/{len(docs):<5} {linked:>6}/{total:<5}  {issue}")


if __name__ == "__main__":
    main()
