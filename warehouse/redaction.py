"""Personal identifiers (e-mail addresses, phone numbers, URLs, card and IBAN numbers, IP addresses)
found in free text and replaced by a typed placeholder such as ``<EMAIL>``.

Presidio's pattern recognizers do the finding, without its NLP engine (which would need a spaCy
model download): none of these identifiers needs part-of-speech tags or named entities. Presidio
validates e-mail domains with tldextract, whose default fetches the public suffix list over the
network on first use; here it reads the snapshot tldextract ships, so nothing is fetched.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

PLACEHOLDERS: dict[str, str] = {
    "EMAIL_ADDRESS": "<EMAIL>",
    "PHONE_NUMBER": "<PHONE>",
    "URL": "<URL>",
    "CREDIT_CARD": "<CARD>",
    "IBAN_CODE": "<IBAN>",
    "IP_ADDRESS": "<IP>",
}
"""Entity type -> the text that replaces it."""

PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "IN", "CA", "AU", "BR", "CN", "JP")
"""Countries whose national number formats count as phone numbers (international ``+`` numbers always do)."""

MIN_SCORE = 0.3
"""Presidio's lowest confidence kept. Its phone numbers score 0.4 and scheme-less domains 0.5."""

MIN_PHONE_DIGITS = 8
"""A phone number has at least this many digits, written with only digits, spaces, ``-``, ``(``, ``)``, ``+``.
Measured on the 10,261 real Amazon reviews: without it prices ("130-160"), string gauges (".025/.026")
and model numbers ("33-3001") were taken for phone numbers."""

_PHONE_CHARS = frozenset("0123456789 -()+\u00a0")
_URL_START = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)", re.IGNORECASE)


@dataclass
class Redaction:
    """A redacted text and what was replaced, by entity type."""

    text: str
    found: dict[str, int] = field(default_factory=dict)


class Redactor:
    """Finds and replaces identifiers in text; recognizers are built once, on first use."""

    def __init__(self, entities: tuple[str, ...] = tuple(PLACEHOLDERS), min_score: float = MIN_SCORE) -> None:
        unknown = [e for e in entities if e not in PLACEHOLDERS]
        if unknown:
            raise ValueError(f"unknown entity types {unknown!r}; use some of {sorted(PLACEHOLDERS)}")
        self.entities = entities
        self.min_score = min_score
        self._recognizers: list | None = None
        self._lock = threading.Lock()

    @property
    def recognizers(self) -> list:
        """Presidio pattern recognizers for ``entities``."""
        with self._lock:
            if self._recognizers is None:
                self._recognizers = _build_recognizers(self.entities)
        return self._recognizers

    def redact(self, text: str | None) -> Redaction:
        """``text`` with every identifier found replaced by its placeholder."""
        if not text:
            return Redaction(text or "")
        digits = sum(c.isdigit() for c in text)
        lowered = text.lower()
        spans = []
        for entity, recognizer in zip(self.entities, self.recognizers):
            if not _may_hold(entity, lowered, digits):
                continue
            found = recognizer.analyze(text, entities=[entity], nlp_artifacts=None)
            spans += [r for r in found if r.score >= self.min_score and _plausible(entity, text[r.start : r.end])]
        return _replace(text, spans) if spans else Redaction(text)

    def redact_text(self, text: str | None) -> str | None:
        """The redacted text alone (None stays None)."""
        return None if text is None else self.redact(text).text


def _plausible(entity: str, span: str) -> bool:
    """Drop the recognizers' matches that real review text showed to be something else."""
    if entity == "URL":
        # Only links written as links: a bare "word.As" is a missing space before a sentence (".as" is a
        # top-level domain), and in 10,261 real reviews 4,559 such "URLs" were all of that kind.
        return bool(_URL_START.match(span))
    if entity == "PHONE_NUMBER":
        return set(span) <= _PHONE_CHARS and sum(c.isdigit() for c in span) >= MIN_PHONE_DIGITS
    return True


_MIN_DIGITS = {"PHONE_NUMBER": MIN_PHONE_DIGITS, "CREDIT_CARD": 12, "IBAN_CODE": 8, "IP_ADDRESS": 4}


def _may_hold(entity: str, lowered: str, digits: int) -> bool:
    """Cheap pre-check that skips a recognizer (most reviews hold no '@', no link and few digits)."""
    if entity == "EMAIL_ADDRESS":
        return "@" in lowered
    if entity == "URL":
        return "://" in lowered or "www." in lowered
    return digits >= _MIN_DIGITS[entity]


def _replace(text: str, spans: list) -> Redaction:
    """Presidio's anonymizer replaces each span by its placeholder (overlapping spans resolved its way)."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    global _ANONYMIZER
    if _ANONYMIZER is None:
        _ANONYMIZER = AnonymizerEngine()
    operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in PLACEHOLDERS.items()}
    result = _ANONYMIZER.anonymize(text=text, analyzer_results=spans, operators=operators)
    found: dict[str, int] = {}
    for item in result.items:
        found[item.entity_type] = found.get(item.entity_type, 0) + 1
    return Redaction(result.text, found)


_ANONYMIZER: Any = None  # presidio_anonymizer.AnonymizerEngine, built on first use


def _build_recognizers(entities: tuple[str, ...]) -> list:
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
    )

    # The snapshot of the public suffix list bundled with tldextract; no fetch, no cache directory.
    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline(pattern_text).fqdn)

    built: dict[str, Callable[[], Any]] = {
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": lambda: PhoneRecognizer(supported_regions=PHONE_REGIONS),
        "URL": UrlRecognizer,
        "CREDIT_CARD": CreditCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "IP_ADDRESS": IpRecognizer,
    }
    return [built[e]() for e in entities]


REVIEW_TEXT_COLUMNS: tuple[str, ...] = ("title", "body")
"""The free-text columns of ``reviews`` that ingest redacts."""


def redact_table(table, redactor: Redactor, columns: tuple[str, ...] = REVIEW_TEXT_COLUMNS):
    """A pyarrow table with ``columns`` (those it has) redacted row by row."""
    import pyarrow as pa

    for name in columns:
        if name not in table.column_names:
            continue
        at = table.column_names.index(name)
        values = [redactor.redact_text(v) for v in table[name].to_pylist()]
        table = table.set_column(at, table.schema.field(at), pa.array(values, table.schema.field(at).type))
    return table
