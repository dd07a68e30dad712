"""The client of every OpenAI-compatible server (vLLM, hosted APIs): ChatOpenAI with uba's errors."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pydantic
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from agent.errors import LLMError, LLMResponseError, LLMTimeoutError, LLMUnavailableError


@contextlib.contextmanager
def translated_errors(model: str, base_url: str | None, timeout: Any) -> Iterator[None]:
    """Re-raise the OpenAI client's failures as uba's LLM errors, naming the server and the fix."""
    where = f"{base_url or 'the OpenAI API'} (model {model!r})"
    try:
        yield
    except LLMError:
        raise
    except openai.APITimeoutError as exc:
        raise LLMTimeoutError(
            f"{where} did not answer within {timeout} s; raise UBA_LLM_TIMEOUT_S or check the server's load"
        ) from exc
    except openai.APIConnectionError as exc:
        raise LLMUnavailableError(
            f"cannot reach {where}: {exc}; start it (uba llm serve) or fix UBA_LLM_BASE_URL"
        ) from exc
    except openai.APIStatusError as exc:
        body = (exc.response.text or "")[:200] if exc.response is not None else ""
        raise LLMResponseError(f"{where} answered HTTP {exc.status_code}: {body!r}") from exc
    except (
        openai.APIResponseValidationError,
        json.JSONDecodeError,
        pydantic.ValidationError,
        KeyError,
        TypeError,
        AttributeError,
    ) as exc:
        raise LLMResponseError(f"{where} sent a reply that is not a chat completion: {exc}") from exc


def _empty(result: ChatResult) -> bool:
    message = result.generations[0].message if result.generations else None
    return message is None or (
        not message.content
        and not getattr(message, "tool_calls", None)
        and not getattr(message, "invalid_tool_calls", None)
    )


class OpenAICompatibleChat(ChatOpenAI):
    """``ChatOpenAI`` whose failures are ``LLMError``s and which refuses empty replies."""

    def _where(self) -> tuple[str, str | None, Any]:
        return self.model_name, self.openai_api_base, self.request_timeout

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with translated_errors(*self._where()):
            result = super()._generate(*args, **kwargs)
        if _empty(result):
            raise LLMResponseError(f"{self.openai_api_base} (model {self.model_name!r}) returned an empty message")
        return result

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        with translated_errors(*self._where()):
            result = await super()._agenerate(*args, **kwargs)
        if _empty(result):
            raise LLMResponseError(f"{self.openai_api_base} (model {self.model_name!r}) returned an empty message")
        return result

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        seen = False
        with translated_errors(*self._where()):
            for chunk in super()._stream(*args, **kwargs):
                seen = seen or bool(chunk.message.content or getattr(chunk.message, "tool_call_chunks", None))
                yield chunk
        if not seen:
            raise LLMResponseError(f"{self.openai_api_base} (model {self.model_name!r}) streamed an empty message")

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        seen = False
        with translated_errors(*self._where()):
            async for chunk in super()._astream(*args, **kwargs):
                seen = seen or bool(chunk.message.content or getattr(chunk.message, "tool_call_chunks", None))
                yield chunk
        if not seen:
            raise LLMResponseError(f"{self.openai_api_base} (model {self.model_name!r}) streamed an empty message")
