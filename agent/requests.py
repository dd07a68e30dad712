"""Requests the analyst refuses before any model call: to change the data, or to hand out personal data.

The analyst only reads (docs/security.md: the guard and the engine's read-only wall refuse every
write), so "delete everyone who hasn't been active" can only be refused; a small model that is asked it
answers something else instead (it ran a count and reported it). The same holds for a column the
schema marks as personal data (``warehouse.schema.PII_COLUMNS``): the walls mask it, and a question
asking for it ("the e-mail address of user 4711") gets the refusal, not a masked value read as an
answer. What is recognised:

- a change: an imperative change verb opening a sentence ("Delete ...", "Please update ...", "Could you
  add ...") whose object, within a few words, is the warehouse's (a table or a column of the schema, or
  rows, records, data), and in Chinese a change verb opening the sentence or closing a 把-phrase;
- personal data: a PII column's words ("e-mail address", "emails", "phone number").

A question that merely mentions a change ("how did orders change in October?", "users who removed an
item from their cart") does not open with an imperative and is answered as usual.
"""

from __future__ import annotations

import re
from functools import cache

from warehouse.schema import PII_COLUMNS, metadata

_STRONG = r"delete|truncate|wipe|erase|purge|insert|update|modify|edit|overwrite|rename|alter|clean\s+up|grant|revoke"
"""Verbs that change data whatever their object names: a table, a column, rows."""
_WEAK = r"remove|drop|add|create|change|set|replace|reset|merge|import|upload|bump|raise|lower|fix"
"""Verbs that also edit a view of the data ("add a breakdown by country", "drop the brand filter"): a change
when their object is a table or rows, or every value of a column ("change every rating")."""
_OPENING = (
    r"(?:^|[.;!?:—–-]\s*|\n)\s*(?:(?:please|pls|now|also|then|and|go\s+ahead\s+and|can\s+you|could\s+you|"
    r"would\s+you|will\s+you|i\s+want\s+you\s+to)\s+)*"
)
_GENERIC = (
    "table",
    "tables",
    "row",
    "rows",
    "record",
    "records",
    "column",
    "columns",
    "database",
    "schema",
    "data",
    "entry",
    "entries",
    "everyone",
    "everybody",
)
_ZH_VERBS = r"删除|删掉|删了|修改|更改|改成|改为|更新|插入|添加|新增|创建|建一?张?表|清空|清理|清除"
_ZH_CHANGE = re.compile(rf"^\s*(?:请|帮我|麻烦)?\s*(?:{_ZH_VERBS})|^\s*(?:请|帮我)?\s*把.*(?:{_ZH_VERBS}|删|改)")
PII_WORDS: dict[str, tuple[str, ...]] = {
    "email": (
        "email address",
        "email addresses",
        "e-mail address",
        "e-mail addresses",
        "emails",
        "e-mails",
        "email list",
        "邮箱",
        "电子邮箱",
        "邮件地址",
    ),
    "phone": ("phone number", "phone numbers", "telephone", "电话", "手机号"),
}
"""The words that ask for a personal-data column; a column without an entry is asked for by its name."""


def _alternatives(words: set[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


@cache
def _change_pattern() -> re.Pattern[str]:
    tables = {*_GENERIC}
    columns = set()
    for table in metadata.tables.values():
        tables |= {table.name, table.name.rstrip("s"), table.name.replace("_", " ")}
        columns |= {c.name.replace("_", " ") for c in table.columns if not c.name.endswith("_id")}
    rows, cols = _alternatives(tables), _alternatives(columns | tables)
    near, close = r"(?:\W+\w+){0,7}?\W+", r"(?:\W+\w+){0,3}?\W+"
    return re.compile(
        rf"{_OPENING}(?:(?:{_STRONG})\b{near}(?:{cols})|(?:{_WEAK})\b{close}(?:{rows}|(?:every|all|each|any)\s+(?:the\s+)?"
        rf"(?:{cols})))s?\b",
        re.IGNORECASE,
    )


def _pii_words() -> list[str]:
    return [w for _, column in sorted(PII_COLUMNS) for w in PII_WORDS.get(column, (column.replace("_", " "),))]


def refusal(question: str) -> str | None:
    """``change`` or ``personal_data`` when ``question`` asks for what the analyst never does, else None."""
    text = question.strip()
    if _change_pattern().search(text) or _ZH_CHANGE.search(text):
        return "change"
    lowered = text.lower()
    if any(re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", lowered) for w in _pii_words()):
        return "personal_data"
    return None
