"""Markdown from the model and from reviews, made safe to render: no raw HTML, no remote images."""

from __future__ import annotations

import re

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]*)\)")
_REF_IMAGE = re.compile(r"!\[([^\]]*)\]\[[^\]]*\]")
_REF_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+.*$", re.MULTILINE)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def safe_markdown(text: str) -> str:
    """Escape HTML and turn images into their alt text, so rendering fetches nothing and runs nothing."""
    text = _INVISIBLE.sub("", text or "")
    text = _IMAGE.sub(lambda m: f"[image: {m.group(1) or 'untitled'}]", text)
    text = _REF_IMAGE.sub(lambda m: f"[image: {m.group(1) or 'untitled'}]", text)
    text = _REF_DEFINITION.sub("", text)
    # Escaping "<" turns every tag, comment and autolink into visible text; ">" stays for quotes.
    return text.replace("<", "&lt;")


def quote(text: str, limit: int = 400) -> str:
    """A review or other untrusted text as a safe Markdown block quote, cut at ``limit`` characters."""
    text = " ".join((text or "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "> " + safe_markdown(text).replace("\n", "\n> ")
