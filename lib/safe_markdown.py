"""Untrusted text made inert for Streamlit's Markdown: no links, images, formatting or directives."""

from __future__ import annotations

import re
from typing import Any

# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all also
# breaks GFM autolinks (http\:\/\/, www\.), Streamlit's :colour[...] and :emoji: directives and $math$.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
MAX_LENGTH = 2_000


def escape_markdown(value: Any, max_length: int = MAX_LENGTH) -> str:
    """The value as text that Markdown shows literally (line breaks kept, overly long text cut)."""
    text = "" if value is None else str(value)
    if len(text) > max_length:
        text = text[:max_length] + "…"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "  \n".join(_PUNCTUATION.sub(r"\\\1", line) for line in lines)
