"""The embedded backend: a LangChain chat model around an in-process llama.cpp ``Llama``.

Prompts are rendered with the GGUF's own chat template (tools listed the way the model was
trained). Tool choice is enforced by grammar-constrained decoding: the reply is either a
``<tool_call>`` whose JSON matches one bound tool's argument schema, or (in auto mode) plain
text, so every call the model makes is structurally valid.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from agent._grammar import tool_grammar
from agent.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError

logger = logging.getLogger(__name__)

_OPEN, _CLOSE = "<tool_call>\n", "\n</tool_call>"
_LOADED: dict[tuple[str, int, int | None], Any] = {}
_LOAD_LOCK = threading.Lock()
_RUN_LOCKS: dict[int, threading.Lock] = {}


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
    _formatter: Any = PrivateAttr(default=None)

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

    def _tokens(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (text piece, info) while decoding; info holds usage and finish reason at the end."""
        if tool_choice == "none":
            tools_for_grammar = None
        else:
            tools_for_grammar = tools
        named = _named_choice(tool_choice)
        if named and tools and named not in {t["function"]["name"] for t in tools}:
            raise ValueError(f"tool_choice names {named!r}, which is not among the bound tools")
        forced = tool_choice in {"any", "required", True} or named is not None
        prompt = self.render(messages, tools)
        llama = self._llama()
        grammar = None
        if tools_for_grammar:
            from llama_cpp import LlamaGrammar

            chosen = [t for t in tools_for_grammar if named is None or t["function"]["name"] == named]
            grammar = LlamaGrammar.from_string(tool_grammar(chosen, allow_text=not forced), verbose=False)
        prompt_tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        if len(prompt_tokens) + 16 > self.n_ctx:
            raise LLMResponseError(
                f"prompt of {len(prompt_tokens)} tokens does not fit the context of {self.n_ctx}; "
                "raise UBA_LLM_MAX_MODEL_LEN or start a new conversation"
            )
        deadline = time.monotonic() + self.timeout_s
        timed_out = False

        def past_deadline(_ids: Any, _logits: Any) -> bool:
            nonlocal timed_out
            timed_out = time.monotonic() > deadline
            return timed_out

        from llama_cpp import StoppingCriteriaList

        produced = 0
        finish = "stop"
        with _RUN_LOCKS[id(llama)]:
            started = time.perf_counter()
            stream = llama.create_completion(
                prompt_tokens,
                max_tokens=min(self.max_tokens, self.n_ctx - len(prompt_tokens)),
                temperature=self.temperature,
                seed=self.seed,
                stop=self.stop_words + list(stop or []),
                stream=True,
                grammar=grammar,
                stopping_criteria=StoppingCriteriaList([past_deadline]),
            )
            for chunk in stream:
                choice = chunk["choices"][0]
                if choice.get("text"):
                    produced += 1
                    yield choice["text"], {}
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            elapsed = time.perf_counter() - started
        if timed_out:
            raise LLMTimeoutError(
                f"the embedded model took longer than {self.timeout_s:g} s; raise UBA_LLM_TIMEOUT_S or ask a narrower question"
            )
        yield "", {
            "usage": {"input_tokens": len(prompt_tokens), "output_tokens": produced,
                      "total_tokens": len(prompt_tokens) + produced},
            "finish_reason": finish,
            "elapsed_s": elapsed,
        }

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
        pieces: list[str] = []
        info: dict[str, Any] = {}
        for piece, meta in self._tokens(messages, stop, tools, tool_choice):
            pieces.append(piece)
            info.update(meta)
        message = self._message("".join(pieces), tools, info)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # Text streams token by token; a tool call is only yielded once it is complete.
        buffered = ""
        streaming_text = False
        info: dict[str, Any] = {}
        for piece, meta in self._tokens(messages, stop, tools, tool_choice):
            info.update(meta)
            if not piece:
                continue
            if streaming_text:
                yield self._text_chunk(piece, run_manager)
                continue
            buffered += piece
            if tools and (_OPEN.startswith(buffered) or buffered.startswith(_OPEN)):
                continue
            streaming_text = True
            yield self._text_chunk(buffered, run_manager)
        if streaming_text:
            yield ChatGenerationChunk(message=AIMessageChunk(
                content="", usage_metadata=info.get("usage"), chunk_position="last",
                response_metadata={"model_name": self.model_name, "finish_reason": info.get("finish_reason")},
            ))
            return
        final = self._message(buffered, tools, info)
        chunk = AIMessageChunk(
            content=final.content,
            tool_call_chunks=[
                {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i, "type": "tool_call_chunk"}
                for i, c in enumerate(final.tool_calls)
            ],
            usage_metadata=final.usage_metadata,
            response_metadata=final.response_metadata,
            chunk_position="last",
        )
        yield ChatGenerationChunk(message=chunk)

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
            body = stripped[len(_OPEN.strip()):]
            body = body[: body.rfind(_CLOSE.strip())] if _CLOSE.strip() in body else body
            try:
                call = json.loads(body)
            except json.JSONDecodeError:
                raise LLMResponseError(
                    f"the model's tool call was cut off after {self.max_tokens} tokens "
                    f"({body[:80]!r}...); raise UBA_LLM_MAX_TOKENS"
                ) from None
            return AIMessage(
                content="",
                tool_calls=[{"name": call["name"], "args": call.get("arguments") or {},
                             "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}],
                usage_metadata=usage,
                response_metadata=metadata,
            )
        if not stripped:
            raise LLMResponseError("the embedded model returned an empty message; ask again or rephrase")
        return AIMessage(content=text, usage_metadata=usage, response_metadata=metadata)
