"""Loading and rendering the prompt files in ``prompts/`` with strict substitution."""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from importlib import resources
from string import Template
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

logger = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class PromptError(ValueError):
    """A prompt file is missing or a template variable was not supplied."""


@cache
def _text(name: str) -> str:
    try:
        return resources.files("prompts").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptError(f"prompt file {name!r} not found in prompts/; add it or fix the name") from exc


@cache
def _data(name: str) -> Any:
    return yaml.safe_load(_text(name))


def substitute(template: str, variables: dict[str, Any], *, source: str) -> str:
    """``template`` with every ``$name`` replaced; a missing or unused variable is an error."""
    tpl = Template(template)
    wanted = set(tpl.get_identifiers())
    missing, unused = wanted - variables.keys(), variables.keys() - wanted
    if missing or unused:
        raise PromptError(
            f"prompt {source!r}: missing variables {sorted(missing)!r}, unexpected {sorted(unused)!r}; "
            "supply exactly the $names the template uses"
        )
    return tpl.substitute({k: str(v) for k, v in variables.items()})


def render(name: str, **variables: Any) -> str:
    """Render the prompt file ``name`` (e.g. ``"context.md"``) with exactly its variables."""
    return substitute(_text(name), variables, source=name)


def language(text: str) -> str:
    """``"zh"`` for a text with Chinese characters, else ``"en"``: the language uba answers in."""
    return "zh" if _CJK.search(text or "") else "en"


def feedback(key: str, *, question: str = "", **variables: Any) -> str:
    """A correction sent to the model (``prompts/feedback.yaml``); a text keyed by language is given in
    the language of ``question``."""
    template = _data("feedback.yaml")[key]
    if isinstance(template, dict):
        template = template[language(question)]
    return substitute(template, variables, source=f"feedback.yaml:{key}")


def failure(key: str, question: str, **variables: Any) -> str:
    """A failure text for the user, in the question's language (English or Chinese)."""
    lang = language(question)
    return substitute(_data("feedback.yaml")["failure"][lang][key], variables, source=f"failure.{lang}.{key}")


def _validated(file: str, schemas: dict[str, type[BaseModel] | None]) -> list[dict[str, Any]]:
    """The entries (question, tool, args) of a prompt YAML file whose tool exists and whose arguments validate."""
    kept = []
    for example in _data(file):
        tool, args = example["tool"], example["args"]
        if tool not in schemas:
            continue
        schema = schemas[tool]
        if schema is not None:
            try:
                schema.model_validate(args)
            except ValidationError as exc:
                logger.warning("%s entry for %r left out: %s", file, tool, exc.errors()[0]["msg"])
                continue
        kept.append({"question": example["question"], "tool": tool, "args": args})
    return kept


def examples(schemas: dict[str, type[BaseModel] | None]) -> list[dict[str, Any]]:
    """The few-shot examples (question, tool, args) whose tool exists and whose arguments validate."""
    return _validated("examples.yaml", schemas)


def demonstrations(schemas: dict[str, type[BaseModel] | None]) -> list[dict[str, Any]]:
    """The retrieved-only demonstrations of ``prompts/demonstrations.yaml`` that fit these tools."""
    return _validated("demonstrations.yaml", schemas)


def render_examples(schemas: dict[str, type[BaseModel] | None]) -> str:
    """The few-shot examples whose tool exists and whose arguments validate, one formatter for all."""
    lines = [
        f"Q: {e['question']}\nCall: {e['tool']} {json.dumps(e['args'], ensure_ascii=False)}" for e in examples(schemas)
    ]
    return "\n\n".join(lines) if lines else "(none)"


CONTEXT_HEADING = "## The data"
"""How ``prompts/context.md`` starts: what follows it in a system prompt is derived from the data."""


def context_part(system_text: str) -> str:
    """The data-derived part of a system prompt (date range, row counts, column values), or ''."""
    at = system_text.rfind(CONTEXT_HEADING)
    return system_text[at:] if at >= 0 else ""


def system_prompt(
    *,
    schemas: dict[str, type[BaseModel] | None],
    dialect: str,
    first_date: str,
    last_date: str,
    schema_summary: str,
    max_steps: int,
    row_limit: int,
    layer: str = "",
) -> str:
    """The system prompt: static rules and examples first (prefix-cacheable), then the data context."""
    static = render("system.md") + "\n" + render("examples.md", examples=render_examples(schemas))
    dynamic = render(
        "context.md",
        dialect=dialect,
        first_date=first_date,
        last_date=last_date,
        schema_summary=schema_summary,
        layer=layer or "(no semantic layer)",
        max_steps=max_steps,
        row_limit=row_limit,
    )
    if not dynamic.startswith(CONTEXT_HEADING):
        raise PromptError(f"prompts/context.md must start with {CONTEXT_HEADING!r} (answers may cite what follows it)")
    return static.rstrip() + "\n\n" + dynamic.rstrip() + "\n"
