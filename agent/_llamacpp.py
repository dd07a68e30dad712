"""The embedded backend: a LangChain chat model around an in-process llama.cpp ``Llama``.

Prompts are rendered with the GGUF's own chat template (tools listed the way the model was
trained). Tool choice is enforced by grammar-constrained decoding: the reply is a
``<tool_call>`` whose JSON matches one bound tool's argument schema, so every call the model
makes is structurally valid. In auto mode plain text is allowed too; when that text holds a
call written as JSON (measured: this model writes prose with a ```json call inside), the call is
decoded again under the named tool's schema.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from agent._grammar import TEXT_ONLY_GRAMMAR, tool_grammar
from agent._llama_decode import decode_ids
from agent._prompt_state import PrefixStates, common_prefix
from agent.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError

logger = logging.getLogger(__name__)

_OPEN, _CLOSE = "<tool_call>\n", "\n</tool_call>"
_OWN_TOKENS = "uba_llama_tokens"  # AIMessage.additional_kwargs key: the tokens the model wrote for its calls
_LOADED: dict[tuple[str, int, int | None], Any] = {}
_LOAD_LOCK = threading.Lock()
_RUN_LOCKS: dict[int, threading.Lock] = {}
_MIN_SAVED_PREFIX = 128  # a shorter static prefix evaluates in about a second: not worth a file


def load_llama(path: Path, n_ctx: int, n_threads: int | None) -> Any:
    """One shared ``llama_cpp.Llama`` per (file, context, threads): loading costs seconds and memory."""
    key = (str(path), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                import llama_cpp
            except ImportError as exc:
                raise LLMUnavailableError(
                    "the embedded backend needs llama-cpp-python; install it with: pip install -e '.[local-llm]'"
                ) from exc
            started = time.perf_counter()
            _LOADED[key] = llama_cpp.Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False, seed=0
            )
            _RUN_LOCKS[id(_LOADED[key])] = threading.Lock()
            logger.info("loaded %s in %.1f s", path, time.perf_counter() - started)
        return _LOADED[key]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def to_template_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as chat-template dicts; tool-call arguments stay objects, not JSON strings."""
    roles = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
    out: list[dict[str, Any]] = []
    for message in messages:
        role = roles.get(message.type)
        if role is None:
            raise ValueError(f"unsupported message type {message.type!r} for the embedded model")
        item: dict[str, Any] = {"role": role, "content": _text(message.content)}
        if isinstance(message, AIMessage) and message.tool_calls:
            item["tool_calls"] = [
                {"id": c.get("id"), "type": "function", "function": {"name": c["name"], "arguments": c["args"]}}
                for c in message.tool_calls
            ]
        if isinstance(message, ToolMessage):
            item["tool_call_id"] = message.tool_call_id
        out.append(item)
    return out


def _named_choice(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, dict):
        return tool_choice.get("function", {}).get("name") or tool_choice.get("name")
    if isinstance(tool_choice, str) and tool_choice not in {"auto", "any", "required", "none"}:
        return tool_choice
    return None


def _merged(info: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Decode info of one reply made in two decodes over the same prompt: its tokens, both outputs."""
    used, extra = info["usage"], more["usage"]
    output = used["output_tokens"] + extra["output_tokens"]
    return {
        **more,
        "elapsed_s": info.get("elapsed_s", 0.0) + more.get("elapsed_s", 0.0),
        "usage": {
            "input_tokens": used["input_tokens"],
            "output_tokens": output,
            "total_tokens": used["input_tokens"] + output,
        },
    }


def _fingerprint(calls: Sequence[dict[str, Any]]) -> str:
    """The calls' names and arguments (not their ids), to tell whether a message still holds them."""
    return json.dumps([[c["name"], c.get("args") or {}] for c in calls], sort_keys=True, default=str)


def _called_tool(text: str, names: set[str]) -> str | None:
    """The bound tool a prose reply names in a JSON call (``"name": "funnel"``), if any."""
    match = re.search(r'"name"\s*:\s*"([^"]+)"', text)
    return match.group(1) if match and match.group(1) in names else None


class LlamaCppChat(BaseChatModel):
    """A tool-calling chat model running a GGUF file in-process with llama.cpp."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: Path
    model_name: str = "local"
    n_ctx: int = 8192
    n_threads: int | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    timeout_s: float = 120.0
    seed: int = 0
    stop_words: list[str] = Field(default_factory=lambda: ["<|im_end|>", "<|endoftext|>"])
    prompt_state_dir: Path | None = None
    """Where the static prompt prefix's state is saved for the next process; None: kept in memory only."""
    grounded_decoding: ClassVar[bool] = True
    """Takes ``decode_tools``: the schemas one step's grammar is built from (``agent.grounded_args``)."""
    _formatter: Any = PrivateAttr(default=None)
    _prefixes: dict[str, list[int]] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "max_tokens": self.max_tokens, "temperature": self.temperature}

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any):
        """Bind tools as OpenAI tool dicts; ``tool_choice``: auto (default), any/required, none, or a name."""
        kwargs.pop("parallel_tool_calls", None)
        kwargs.pop("strict", None)
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    # --- the model ---------------------------------------------------------------------------
    def _llama(self) -> Any:
        return load_llama(self.model_path, self.n_ctx, self.n_threads)

    def render(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None) -> str:
        """The prompt text exactly as the model sees it."""
        llama = self._llama()
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMUnavailableError(f"{str(self.model_path)!r} carries no chat template; use an instruct GGUF")
            self._formatter = Jinja2ChatFormatter(template=template, eos_token="<|im_end|>", bos_token="")
        return self._formatter(messages=to_template_messages(messages), tools=tools or None).prompt

    def static_prefix(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None) -> list[int]:
        """The tokens every prompt with these leading system messages and tools starts with.

        Derived from what is really sent: the leading system messages and the tool list rendered by the
        chat template before two different questions; their common tokens, less the last one (a token
        that may merge with a question's first characters), are the prefix.
        """
        systems = []
        for message in messages:
            if not isinstance(message, SystemMessage):
                break
            systems.append(message)
        key = json.dumps([[_text(m.content) for m in systems], tools or []], sort_keys=True, default=str)
        if key not in self._prefixes:
            llama = self._llama()
            first, second = (
                llama.tokenize(
                    self.render([*systems, HumanMessage(content=q)], tools).encode("utf-8"), add_bos=False, special=True
                )
                for q in ("How many?", "Which one?")
            )
            self._prefixes[key] = common_prefix(first, second)[:-1]
        return self._prefixes[key]

    def prefill(self, messages: Sequence[BaseMessage], tools: Sequence[Any] = ()) -> int:
        """Put the static prompt prefix of ``messages`` and ``tools`` into the KV cache without answering
        (loaded from the saved state when there is one); returns its token count.

        The next call whose prompt starts the same way then evaluates only what differs: measured ~4k
        prompt tokens, ~70 s cold on a 2-core CPU.
        """
        llama = self._llama()
        prefix = self.static_prefix(messages, [convert_to_openai_tool(t) for t in tools] or None)
        with _RUN_LOCKS[id(llama)]:
            self._restore_prefix(llama, prefix)
        return len(prefix)

    def _restore_prefix(self, llama: Any, prefix: list[int]) -> str:
        """Put ``prefix`` into the cache (the caller holds the run lock): cached, loaded or evaluated."""
        if len(prefix) < _MIN_SAVED_PREFIX or self.prompt_state_dir is None:
            if len(common_prefix(llama._input_ids, prefix)) == len(prefix):
                return "cached"
            llama.n_tokens = len(common_prefix(llama._input_ids, prefix))
            llama.eval(prefix[llama.n_tokens :])
            return "evaluated"
        return PrefixStates(self.prompt_state_dir, self.model_path, self.n_ctx).restore(llama, prefix)

    def _prepare(
        self, messages: list[BaseMessage], tools: list[dict[str, Any]] | None, tool_choice: Any
    ) -> tuple[list[int], list[dict[str, Any]], bool]:
        """Prompt tokens, the tools the reply may call, and whether it must call one."""
        named = _named_choice(tool_choice)
        if named and tools and named not in {t["function"]["name"] for t in tools}:
            raise ValueError(f"tool_choice names {named!r}, which is not among the bound tools")
        callable_tools = [] if tool_choice == "none" else list(tools or [])
        if named:
            callable_tools = [t for t in callable_tools if t["function"]["name"] == named]
        forced = tool_choice in {"any", "required", True} or named is not None
        tokens = self.prompt_tokens(messages, tools)
        self.static_prefix(messages, tools)  # known from now on: ``_tokens`` restores it before decoding
        if len(tokens) + 16 > self.n_ctx:
            raise LLMResponseError(
                f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx}; "
                "raise UBA_LLM_MAX_MODEL_LEN or start a new conversation"
            )
        return tokens, callable_tools, forced

    def prompt_tokens(self, messages: Sequence[BaseMessage], tools: list[dict[str, Any]] | None) -> list[int]:
        """The prompt's tokens, with each earlier call of this model replayed as the tokens it wrote.

        The model spells ``<tool_call>`` as text tokens; the chat template renders the same call with
        the single special token (llama.cpp reads that tag as the special token even in plain text).
        Measured: the cached prompt stopped matching at the call, so the whole call (60-80 tokens) was
        evaluated again on the next step. Replaying the model's own tokens keeps the cache matching.
        """
        llama = self._llama()
        replays: dict[str, list[int]] = {}
        shown: list[BaseMessage] = []
        for message in messages:
            ids = self._own_tokens(message)
            if ids is None:
                shown.append(message)
                continue
            marker = f"\x00uba-call-{len(replays)}\x00"
            replays[marker] = ids
            shown.append(AIMessage(content=marker))
        rendered = self.render(shown, tools)
        tokens: list[int] = []
        for piece in re.split("(\x00uba-call-\\d+\x00)", rendered):
            if piece in replays:
                tokens.extend(replays[piece])
            elif piece:
                tokens.extend(llama.tokenize(piece.encode("utf-8"), add_bos=False, special=True))
        return tokens

    def _own_tokens(self, message: BaseMessage) -> list[int] | None:
        """The tokens this model wrote for ``message``'s tool calls, if it did and they are unchanged."""
        if not isinstance(message, AIMessage) or not message.tool_calls:
            return None
        own = message.additional_kwargs.get(_OWN_TOKENS)
        if not isinstance(own, dict) or own.get("model") != str(self.model_path):
            return None
        if own.get("calls") != _fingerprint(message.tool_calls) or _text(message.content).strip():
            return None
        return list(own["ids"])

    def _tokens(
        self,
        prompt_tokens: list[int],
        grammar_text: str | None,
        stop: list[str] | None,
        *,
        release: Any = None,
        until: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (text piece, info) while decoding at most ``max_tokens`` within the timeout; the last
        item carries usage, finish reason and the token ids. ``release``: ``decode_ids``'s
        ``release_grammar``; ``until``: stop once the text ends with it."""
        llama = self._llama()
        stops = [s for s in self.stop_words + list(stop or []) if s]
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ids: list[int] = []
        held = written = ""
        finish = "length"
        limit = min(self.max_tokens, self.n_ctx - len(prompt_tokens))
        with _RUN_LOCKS[id(llama)]:
            # The static prefix is warm-up, not this call's work: it is in place before the clock starts,
            # and so is the wait for another call to finish.
            known = [p for p in list(self._prefixes.values()) if prompt_tokens[: len(p)] == p]
            prefix = max(known, key=len, default=[])
            self._restore_prefix(llama, prefix)
            deadline = time.monotonic() + self.timeout_s
            started = time.perf_counter()
            tokens = decode_ids(
                llama,
                prompt_tokens,
                grammar=grammar_text,
                limit=limit,
                deadline=deadline,
                temperature=self.temperature,
                seed=self.seed,
                release_grammar=release,
            )
            try:
                with contextlib.closing(tokens):
                    for token in tokens:
                        if not ids:
                            logger.info(
                                "first generated token %.2f s into the call (%d prompt tokens, %d of "
                                "them from the prefix cache)",
                                time.perf_counter() - started,
                                len(prompt_tokens),
                                len(prefix),
                            )
                        ids.append(token)
                        held += decoder.decode(llama.detokenize([token], special=True))
                        hits = [held.find(s) for s in stops if s in held]
                        if hits:
                            held, finish = held[: min(hits)], "stop"
                            break
                        if until and (written + held).endswith(until):
                            finish = "stop"
                            break
                        keep = max((n for s in stops for n in range(1, len(s)) if held.endswith(s[:n])), default=0)
                        if len(held) > keep:
                            piece, held = held[: len(held) - keep], held[len(held) - keep :]
                            written += piece
                            yield piece, {}
                    else:
                        finish = "stop" if len(ids) < limit else "length"
            except TimeoutError:
                raise LLMTimeoutError(
                    f"the embedded model took longer than {self.timeout_s:g} s; "
                    "raise UBA_LLM_TIMEOUT_S or ask a narrower question"
                ) from None
            elapsed = time.perf_counter() - started
        held += decoder.decode(b"", final=True)
        if held:
            yield held, {}
        yield (
            "",
            {
                "usage": {
                    "input_tokens": len(prompt_tokens),
                    "output_tokens": len(ids),
                    "total_tokens": len(prompt_tokens) + len(ids),
                },
                "finish_reason": finish,
                "elapsed_s": elapsed,
                "ids": ids,
            },
        )

    def _decode(
        self, prompt_tokens: list[int], grammar_text: str | None, stop: list[str] | None, **options: Any
    ) -> tuple[str, dict[str, Any]]:
        pieces: list[str] = []
        info: dict[str, Any] = {}
        for piece, meta in self._tokens(prompt_tokens, grammar_text, stop, **options):
            pieces.append(piece)
            info.update(meta)
        return "".join(pieces), info

    def _call_or_text(
        self, prompt_tokens: list[int], tools: list[dict[str, Any]], forced: bool, stop: list[str] | None
    ) -> tuple[str, dict[str, Any]]:
        """Decode a reply that may (auto) or must (forced) be a call written as ``<tool_call>`` text.

        In auto mode the grammar holds only until the first token: text may not open like a call, so
        a first token that is not ``<`` makes the reply text, which then continues unconstrained.
        """
        llama = self._llama()

        def is_text(ids: list[int]) -> bool:
            return not llama.detokenize(ids[:1], special=True).decode("utf-8", "replace").startswith("<")

        return self._decode(
            prompt_tokens,
            tool_grammar(tools, allow_text=not forced),
            stop,
            release=None if forced else is_text,
            until=_CLOSE.strip(),
        )

    def _reply(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        decode_tools: list[dict[str, Any]] | None = None,
    ) -> AIMessage:
        """``decode_tools``: narrower schemas of the same tools for the grammar (the prompt shows ``tools``)."""
        prompt_tokens, callable_tools, forced = self._prepare(messages, tools, tool_choice)
        if decode_tools is not None and callable_tools:
            names = {t["function"]["name"] for t in callable_tools}
            callable_tools = [t for t in decode_tools if t["function"]["name"] in names] or callable_tools
        if not callable_tools:
            # Tools in the prompt but none callable: the first token may not open a call.
            grammar = TEXT_ONLY_GRAMMAR if tools else None
            text, info = self._decode(prompt_tokens, grammar, stop, release=(lambda ids: True) if tools else None)
            return self._message(text, callable_tools, info)
        text, info = self._call_or_text(prompt_tokens, callable_tools, forced, stop)
        if not text.lstrip().startswith(_OPEN.strip()):
            # Auto mode, text branch. Measured: this model writes a call it decided on as prose with
            # a ```json block. Decode that call again, constrained to the named tool's schema (the
            # prompt is cached, so this costs only the call's tokens).
            called = _called_tool(text, {t["function"]["name"] for t in callable_tools})
            if called:
                chosen = [t for t in callable_tools if t["function"]["name"] == called]
                text, again = self._call_or_text(prompt_tokens, chosen, True, stop)
                info = _merged(info, again)
        return self._message(text, callable_tools, info)

    # --- LangChain entry points -----------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(
            generations=[
                ChatGeneration(message=self._reply(messages, stop, tools, tool_choice, kwargs.get("decode_tools")))
            ]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # With tools bound the reply may turn into a call, so it arrives whole; plain text streams.
        if tools and tool_choice != "none":
            final = self._reply(messages, stop, tools, tool_choice, kwargs.get("decode_tools"))
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=final.content,
                    tool_call_chunks=[
                        {
                            "name": c["name"],
                            "args": json.dumps(c["args"]),
                            "id": c["id"],
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                        for i, c in enumerate(final.tool_calls)
                    ],
                    usage_metadata=final.usage_metadata,
                    response_metadata=final.response_metadata,
                    additional_kwargs=final.additional_kwargs,
                    chunk_position="last",
                )
            )
            return
        prompt_tokens, _, _ = self._prepare(messages, tools, "none")
        info: dict[str, Any] = {}
        produced = False
        for piece, meta in self._tokens(prompt_tokens, None, stop):
            info.update(meta)
            if piece:
                produced = produced or bool(piece.strip())
                yield self._text_chunk(piece, run_manager)
        if not produced:
            raise LLMResponseError("the embedded model returned an empty message; ask again or rephrase")
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=info.get("usage"),
                chunk_position="last",
                response_metadata={"model_name": self.model_name, "finish_reason": info.get("finish_reason")},
            )
        )

    def _text_chunk(self, text: str, run_manager: CallbackManagerForLLMRun | None) -> ChatGenerationChunk:
        if run_manager:
            run_manager.on_llm_new_token(text)
        return ChatGenerationChunk(message=AIMessageChunk(content=text))

    def _message(self, text: str, tools: list[dict[str, Any]] | None, info: dict[str, Any]) -> AIMessage:
        """Turn decoded text into an AIMessage: a structured tool call, or the text itself."""
        metadata = {"model_name": self.model_name, "finish_reason": info.get("finish_reason")}
        usage = info.get("usage")
        stripped = text.strip()
        if tools and stripped.startswith(_OPEN.strip()):
            body = stripped[len(_OPEN.strip()) :]
            body = body[: body.rfind(_CLOSE.strip())] if _CLOSE.strip() in body else body
            try:
                call = json.loads(body)
            except json.JSONDecodeError:
                raise LLMResponseError(
                    f"the model's tool call was cut off after {self.max_tokens} tokens "
                    f"({body[:80]!r}...); raise UBA_LLM_MAX_TOKENS"
                ) from None
            calls = [
                {
                    "name": call["name"],
                    "args": call.get("arguments") or {},
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "tool_call",
                }
            ]
            own = {"model": str(self.model_path), "calls": _fingerprint(calls), "ids": info.get("ids", [])}
            return AIMessage(
                content="",
                tool_calls=calls,
                usage_metadata=usage,
                response_metadata=metadata,
                additional_kwargs={_OWN_TOKENS: own} if info.get("ids") else {},
            )
        if not stripped:
            raise LLMResponseError("the embedded model returned an empty message; ask again or rephrase")
        return AIMessage(content=text, usage_metadata=usage, response_metadata=metadata)
