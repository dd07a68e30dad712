"""Review text made safe to index and quote: invisible characters stripped, NFKC, capped."""

from __future__ import annotations

import hashlib
import re
import unicodedata

DEFAULT_MAX_CHARS = 4000

# Characters with no visible glyph that smuggle text past a reader (zero-width, bidi
# controls, Unicode tags, variation selectors) or pad it invisibly (Hangul fillers).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Co", "Cs", "Cn"})
_INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFFA0, 0x2800]
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)
_KEEP_CONTROLS = frozenset("\n\t ")
_WHITESPACE = re.compile(r"\s+")
_IMAGE = re.compile(r"!\s*\[([^\]]{0,200})\]\s*\([^)]{0,2000}\)")
_LINK = re.compile(r"\[([^\]]{0,200})\]\s*\((?:[a-z][a-z0-9+.-]*:|//)[^)]{0,2000}\)", re.IGNORECASE)
_URL_SCHEME = re.compile(r"\b(h)(ttps?)(://)", re.IGNORECASE)
_REF_DEFINITION = re.compile(r"\[([^\]]{0,200})\]:\s*\S+")


def _visible(char: str) -> bool:
    if char in _KEEP_CONTROLS:
        return True
    if ord(char) in _INVISIBLE_EXTRA:
        return False
    return unicodedata.category(char) not in _INVISIBLE_CATEGORIES


def normalize_text(text: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """NFKC text with invisible/bidi/tag characters removed, whitespace collapsed, at most ``max_chars``."""
    if not text:
        return ""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", text) if _visible(ch))
    # NFKC can compose new characters out of what was stripped, so normalize once more.
    cleaned = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", cleaned)).strip()
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1].rstrip() + "…"
    return cleaned


def review_document(title: str | None, body: str | None, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The indexed text of a review: normalized title and body on two lines."""
    head = normalize_text(title, 300)
    rest = normalize_text(body, max_chars)
    return f"{head}\n{rest}" if head and rest else head or rest


def text_hash(document: str) -> str:
    """A short content hash of an indexed text (decides whether a review is re-embedded)."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:24]


def defang_markup(text: str) -> str:
    """Quoted text that no renderer turns into an image fetch or a live link."""
    text = _IMAGE.sub(
        lambda m: f"[image removed: {m.group(1).strip()}]" if m.group(1).strip() else "[image removed]", text
    )
    text = _LINK.sub(lambda m: f"{m.group(1)} [link removed]", text)
    text = _REF_DEFINITION.sub(lambda m: f"[{m.group(1)}] [link removed]", text)
    text = _URL_SCHEME.sub(lambda m: f"{m.group(1)}xx{m.group(2)[2:]}[:]//", text)
    return text.replace("<", "‹").replace(">", "›")
