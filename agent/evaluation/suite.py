"""The question set: YAML data with gold SQL (never gold numbers), loaded and validated."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

Kind = Literal["trend", "funnel", "retention", "top_items", "segment", "profile", "sql", "reviews",
               "prediction", "followup", "chinese", "unsafe"]


class OracleCall(BaseModel):
    """A call a perfect model would make (the ``fake`` backend replays it)."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class EvalQuestion(BaseModel):
    """One question and how to judge its answer."""

    id: str
    kind: Kind
    question: str
    thread: str | None = Field(None, description="questions sharing a thread run in order as one conversation")
    tools: list[str] = Field(default_factory=list, description="tools that count as the right choice")
    gold_sql: str | None = Field(None, description="one row; every value must appear in the answer")
    tolerance: float = Field(0.01, ge=0, description="relative tolerance for numbers")
    review_ids_sql: str | None = Field(None, description="review ids of which the answer should cite one")
    themes: list[str] = Field(default_factory=list, description="words of which the answer should contain one")
    refuse: bool = False
    oracle: list[OracleCall] = Field(default_factory=list)
    oracle_answer: str = Field("$result", description="fake backend's answer template over the tool text")
    note: str = ""

    @model_validator(mode="after")
    def _judgeable(self) -> EvalQuestion:
        if not (self.gold_sql or self.review_ids_sql or self.themes or self.refuse or self.tools):
            raise ValueError(f"question {self.id!r} has nothing to judge it by; add gold_sql, tools, themes or refuse")
        return self


def load_questions(path: Path | None = None) -> list[EvalQuestion]:
    """The questions in ``path`` (default: the bundled demo set); a clear error names a bad entry."""
    if path is None:
        text = resources.files("agent.evaluation").joinpath("questions.yaml").read_text(encoding="utf-8")
        source = "the bundled questions.yaml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read questions file {str(path)!r}: {exc}") from exc
        source = str(path)
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
    return questions
