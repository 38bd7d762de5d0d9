"""Markdown escaping: stored and URL text renders as the same literal text, never a link or an image."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from lib.safe_markdown import escape_markdown

PARSER = MarkdownIt("gfm-like")  # CommonMark + GFM tables, strikethrough and autolinked URLs

HOSTILE = [
    "![x](http://host/beacon.png)",
    "[click me](http://evil)",
    "<img src=http://host/b.png>",
    "see http://evil.example/path and www.evil.example",
    "mail a@evil.example",
    "**bold** _it_ `code` ~~gone~~",
    "# Heading",
    "> quote",
    "- item",
    "1. item",
    ":red[alarm] :material/warning: :smile:",
    "$x^2$ and \\$",
    "&lt;script&gt;",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "line one\n\n![x](http://host/b.png)",
    "[a]: http://evil\n[a]",
]


def _inline_tokens(markdown: str) -> list:
    out = []
    for token in PARSER.parse(markdown):
        out.append(token)
        out += token.children or []
    return out


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_plain_text(text):
    tokens = _inline_tokens(escape_markdown(text))
    kinds = {t.type for t in tokens}
    assert kinds <= {
        "paragraph_open",
        "paragraph_close",
        "inline",
        "text",
        "softbreak",
        "hardbreak",
    }
    shown = "".join(t.content for t in tokens if t.type == "text")
    assert shown == text.replace("\n", "")


def test_plain_names_stay_readable():
    assert escape_markdown("Ana María Núñez") == "Ana María Núñez"
    assert escape_markdown("O'Neil-Smith") == "O\\'Neil\\-Smith"
    assert escape_markdown(None) == ""
    assert escape_markdown(42) == "42"


def test_very_long_text_is_cut():
    assert len(escape_markdown("a" * 10_000)) == 2_001
