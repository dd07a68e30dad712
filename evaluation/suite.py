"""The question sets: YAML data with gold SQL (never gold numbers), loaded, validated and split."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

RegressionKind = Literal[
    "trend",
    "funnel",
    "retention",
    "top_items",
    "segment",
    "profile",
    "sql",
    "reviews",
    "prediction",
    "followup",
    "chinese",
    "unsafe",
]
AnalystClass = Literal[
    "dimension_ranking",
    "behavior_rate",
    "money_by_grain",
    "review_text",
    "users_facts",
    "cohort_fraction",
    "session_stats",
    "user_ranking",
    "followup",
    "multi_step",
    "time_pattern",
    "segment_comparison",
    "money_compare",
    "user_lookup",
    "refusal",
    "unanswerable",
    "chinese",
]
Kind = RegressionKind | AnalystClass
Split = Literal["dev", "test"]

SETS: dict[str, str] = {
    "regression": "questions.yaml",
    "analyst": "analyst.yaml",
    "analyst-taobao": "analyst_taobao.yaml",
}
"""The bundled sets: ``regression`` (the first 49 questions), ``analyst`` (the demo shop, dev/test split) and
``analyst-taobao`` (the same classes on the Taobao UserBehavior head, loaded with ``uba data ingest -f taobao``)."""

DEV_SHARE = 0.4
"""Share of each class's units (a thread, or a question outside threads) that goes to the dev split."""


class OracleCall(BaseModel):
    """A call a perfect model would make (the ``fake`` backend replays it)."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class EvalQuestion(BaseModel):
    """One question and how to judge its answer."""

    id: str
    kind: Kind
    question: str
    split: Split | None = Field(None, description="dev (tune on it) or test (report it); fixed in the file")
    thread: str | None = Field(None, description="questions sharing a thread run in order as one conversation")
    followup_of: str | None = Field(None, description="the earlier question of the same thread this one edits")
    tools: list[str] = Field(default_factory=list, description="tools that count as the right choice")
    requires_tools: list[str] = Field(
        default_factory=list, description="tools that must all have run for a right answer"
    )
    gold_sql: str | None = Field(None, description="one row; every value must appear in the answer")
    tolerance: float = Field(0.01, ge=0, description="relative tolerance for non-integer numbers")
    review_ids_sql: str | None = Field(None, description="review ids of which the answer should cite one")
    themes: list[str] = Field(default_factory=list, description="words of which the answer should contain one")
    refuse: bool = False
    lacks: str | None = Field(None, description="what the data has no column for: the answer says so, with no number")
    oracle: list[OracleCall] = Field(default_factory=list)
    oracle_answer: str = Field("$result", description="fake backend's answer template over the tool text")
    note: str = ""

    @model_validator(mode="after")
    def _judgeable(self) -> EvalQuestion:
        if not (self.gold_sql or self.review_ids_sql or self.themes or self.refuse or self.tools or self.lacks):
            raise ValueError(
                f"question {self.id!r} has nothing to judge it by; add gold_sql, tools, themes, refuse or lacks"
            )
        if self.followup_of and not self.thread:
            raise ValueError(f"question {self.id!r} is a follow-up of {self.followup_of!r} but names no thread")
        return self

    @property
    def single_step(self) -> bool:
        """Whether one tool call answers it: the oracle's single call, or any question that is not a refusal,
        an abstention or a multi-step plan."""
        if self.oracle:
            return len(self.oracle) == 1 and not self.refuse
        return bool(self.tools) and self.kind != "multi_step" and not self.refuse and self.lacks is None

    @property
    def unit(self) -> str:
        """What the split keeps together: the thread, or the question itself."""
        return f"thread:{self.thread}" if self.thread else self.id


def _read(path: Path | str | None) -> tuple[str, str]:
    if path is None:
        path = "regression"
    if isinstance(path, str) and path in SETS:
        file = SETS[path]
        return resources.files("evaluation").joinpath(file).read_text(encoding="utf-8"), f"the bundled {file}"
    if isinstance(path, str) and not path.endswith((".yaml", ".yml")):
        raise ValueError(f"unknown question set {path!r}; use one of {sorted(SETS)} or a path to a YAML file")
    try:
        return Path(path).read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ValueError(f"cannot read questions file {str(path)!r}: {exc}") from exc


def _check_threads(questions: Sequence[EvalQuestion], source: str) -> None:
    seen: dict[str, EvalQuestion] = {}
    for q in questions:
        if q.followup_of is not None:
            first = seen.get(q.followup_of)
            if first is None or first.thread != q.thread:
                raise ValueError(
                    f"{source}: {q.id!r} follows up {q.followup_of!r}, which must come earlier "
                    f"in the file with the same thread {q.thread!r}"
                )
        seen[q.id] = q
    for q in questions:  # a thread lives in one split, or the dev half would leak the test half's context
        if q.thread and len({p.split for p in questions if p.thread == q.thread}) > 1:
            raise ValueError(
                f"{source}: thread {q.thread!r} is split between dev and test; give its questions one split"
            )


def load_questions(path: Path | str | None = None) -> list[EvalQuestion]:
    """The questions of a bundled set (``regression``, the default; ``analyst``; ``analyst-taobao``) or of a
    YAML file; a clear error names a bad entry."""
    text, source = _read(path)
    raw = yaml.safe_load(text)
    if not isinstance(raw, list):
        raise ValueError(f"{source} must be a YAML list of questions")
    questions = []
    for i, item in enumerate(raw):
        try:
            questions.append(EvalQuestion.model_validate(item))
        except ValidationError as exc:
            raise ValueError(f"{source}: question #{i + 1} ({item.get('id', '?')!r}) is invalid: {exc}") from exc
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: duplicate question ids {duplicates!r}")
    _check_threads(questions, source)
    return questions


def _rank(unit: str) -> str:
    return hashlib.sha256(unit.encode("utf-8")).hexdigest()


def assign_splits(questions: Sequence[EvalQuestion], dev_share: float = DEV_SHARE) -> dict[str, Split]:
    """The split rule: within each class, order its units (threads, or single questions) by the sha256 of
    the unit's name; the first ``round(dev_share * units)`` go to dev, the rest to test."""
    units_by_class: dict[str, list[str]] = {}
    for q in questions:
        units = units_by_class.setdefault(q.kind, [])
        if q.unit not in units:
            units.append(q.unit)
    split_of_unit: dict[str, Split] = {}
    for units in units_by_class.values():
        ordered = sorted(units, key=_rank)
        n_dev = round(dev_share * len(ordered))
        split_of_unit.update({u: ("dev" if i < n_dev else "test") for i, u in enumerate(ordered)})
    return {q.id: split_of_unit[q.unit] for q in questions}


def select(
    questions: Sequence[EvalQuestion],
    *,
    split: str | None = None,
    kinds: set[str] | None = None,
    limit: int | None = None,
    per_class: int | None = None,
) -> list[EvalQuestion]:
    """The questions of one split and some kinds, the first ``per_class`` of each class, at most ``limit``,
    never a follow-up without its first question."""
    if split not in (None, "dev", "test"):
        raise ValueError(f"unknown split {split!r}; use dev or test")
    if split is not None and any(q.split is None for q in questions):
        raise ValueError(f"this set has no dev/test split; run it without --split (split={split!r})")
    chosen = [q for q in questions if (split is None or q.split == split) and (not kinds or q.kind in kinds)]
    if per_class is not None:
        chosen = [q for q in chosen if [p.kind for p in chosen[: chosen.index(q)]].count(q.kind) < per_class]
    if limit is not None:
        chosen = chosen[:limit]
    asked = {q.id for q in chosen}
    return [q for q in chosen if q.followup_of is None or q.followup_of in asked]
