"""Running one question for any surface: thread claim and lock, rate limit, timeout, metrics, 503s."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from agent.answer import Answer, AnswerToken, FinalAnswer
from agent.errors import LLMError
from ui.api.auth import Caller
from ui.api.errors import ApiError
from ui.api.limits import RateLimiter, ThreadGuard
from ui.api.metrics import Metrics
from ui.api.threads import ThreadOwnedElsewhere, ThreadStore

logger = logging.getLogger(__name__)

_MAX_THREAD_ID = 128


def _unavailable(detail: str) -> ApiError:
    return ApiError(
        503,
        "the language model is unavailable; check that the LLM backend is running "
        f"(UBA_LLM_BACKEND, UBA_LLM_BASE_URL) and retry. Detail: {detail}",
        headers={"Retry-After": "10"},
    )


class Runs:
    """Runs questions against the analyst under the server's limits and records them."""

    def __init__(
        self,
        analyst_factory: Callable[[], Any],
        *,
        threads: ThreadStore,
        metrics: Metrics,
        rate: RateLimiter,
        max_message_chars: int,
        timeout_s: float,
    ) -> None:
        self._analyst_factory = analyst_factory
        self._analyst: Any = None
        self._build_lock = threading.Lock()
        self.build_error: str | None = None
        self.threads = threads
        self.metrics = metrics
        self.rate = rate
        self.guard = ThreadGuard()
        self.max_message_chars = max_message_chars
        self.timeout_s = timeout_s

    @property
    def analyst(self) -> Any:
        """The analyst, built on first use so the server starts before the model loads."""
        with self._build_lock:
            if self._analyst is None:
                try:
                    self._analyst = self._analyst_factory()
                except LLMError as exc:
                    self.build_error = str(exc)
                    raise _unavailable(str(exc)) from exc
                except Exception as exc:
                    self.build_error = f"{type(exc).__name__}: {exc}"
                    raise
                self.build_error = None
        return self._analyst

    @property
    def loaded(self) -> bool:
        """True once the analyst was built."""
        return self._analyst is not None

    async def _get_analyst(self) -> Any:
        return self._analyst if self._analyst is not None else await run_in_threadpool(lambda: self.analyst)

    def admit(self, caller: Caller, question: str, thread_id: str | None) -> str:
        """Check the limits for one question and return its thread id (new when none was given)."""
        self.rate.check(caller.owner, caller.rate_per_min)
        if not question.strip():
            raise ApiError(422, "the question is empty; send the question as the last user message", param="messages")
        if len(question) > self.max_message_chars:
            raise ApiError(
                413,
                f"the message is {len(question):,} characters; the limit is {self.max_message_chars:,} "
                "(UBA_API_MAX_MESSAGE_CHARS); shorten it",
                param="messages",
            )
        thread_id = thread_id or f"t-{uuid.uuid4().hex}"
        if len(thread_id) > _MAX_THREAD_ID or not thread_id.isprintable():
            raise ApiError(422, f"thread id {thread_id[:40]!r}... must be at most {_MAX_THREAD_ID} printable characters",
                           param="thread_id")
        try:
            self.threads.claim(thread_id, caller.owner)
        except ThreadOwnedElsewhere:
            raise ApiError(404, f"thread {thread_id!r} does not exist for this key; omit it to start a new thread",
                           param="thread_id") from None
        return thread_id

    def _finish(self, caller: Caller, surface: str, question: str, thread_id: str, answer: Answer, started: float) -> Answer:
        elapsed = time.perf_counter() - started
        self.metrics.analyst_seconds.observe(elapsed)
        self.metrics.record_answer(answer.usage.model_dump(), [s.model_dump() for s in answer.trace])
        if answer.status == "error":
            self.metrics.questions.labels(surface=surface, outcome="llm_error").inc()
            raise _unavailable(answer.text.strip().splitlines()[0] if answer.text.strip() else "no reply")
        self.metrics.questions.labels(surface=surface, outcome=answer.status).inc()
        answer = answer.model_copy(update={"thread_id": thread_id})
        self.threads.append(thread_id, question, answer.model_dump(mode="json"))
        return answer

    async def answer(self, caller: Caller, question: str, thread_id: str, *, surface: str) -> tuple[Answer, float]:
        """The whole Answer and the seconds the analyst took; 503 when the LLM fails or times out."""
        analyst = await self._get_analyst()
        with self.guard.hold(thread_id):
            self.metrics.in_flight.inc()
            started = time.perf_counter()
            try:
                kwargs = {"thread_id": thread_id, "user_scope": caller.user_scope}
                if inspect.iscoroutinefunction(getattr(analyst, "aask", None)):
                    call = analyst.aask(question, **kwargs)
                else:
                    call = run_in_threadpool(analyst.ask, question, **kwargs)
                answer = await asyncio.wait_for(call, self.timeout_s)
            except TimeoutError:
                self.metrics.questions.labels(surface=surface, outcome="timeout").inc()
                raise _unavailable(f"no answer within {self.timeout_s:g} s (UBA_API_QUESTION_TIMEOUT_S)") from None
            except LLMError as exc:
                self.metrics.questions.labels(surface=surface, outcome="llm_error").inc()
                raise _unavailable(str(exc)) from exc
            finally:
                self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            return self._finish(caller, surface, question, thread_id, answer, started), elapsed

    async def events(self, caller: Caller, question: str, thread_id: str, *, surface: str) -> AsyncIterator[Any]:
        """The analyst's streaming events; the last one is FinalAnswer. Closing the iterator cancels the run."""
        analyst = await self._get_analyst()
        with self.guard.hold(thread_id):
            self.metrics.in_flight.inc()
            started = time.perf_counter()
            deadline = time.monotonic() + self.timeout_s
            kwargs = {"thread_id": thread_id, "user_scope": caller.user_scope}
            if inspect.isasyncgenfunction(getattr(analyst, "astream", None)):
                source = analyst.astream(question, **kwargs)
            else:
                source = iterate_in_threadpool(analyst.stream(question, **kwargs))
            finished = False
            tokens: list[AnswerToken] = []
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    try:
                        event = await asyncio.wait_for(anext(source), max(remaining, 0.001))
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        self.metrics.questions.labels(surface=surface, outcome="timeout").inc()
                        raise _unavailable(
                            f"no answer within {self.timeout_s:g} s (UBA_API_QUESTION_TIMEOUT_S)"
                        ) from None
                    except LLMError as exc:
                        self.metrics.questions.labels(surface=surface, outcome="llm_error").inc()
                        raise _unavailable(str(exc)) from exc
                    if isinstance(event, AnswerToken):
                        tokens.append(event)  # held back until the outcome is known: a failure is a 503
                        continue
                    if isinstance(event, FinalAnswer):
                        finished = True
                        answer = self._finish(caller, surface, question, thread_id, event.answer, started)
                        for token in tokens:
                            yield token
                        yield FinalAnswer(answer=answer)
                        return
                    yield event
            except (asyncio.CancelledError, GeneratorExit):
                if not finished:
                    self.metrics.cancelled.inc()
                    self.metrics.questions.labels(surface=surface, outcome="cancelled").inc()
                    logger.info("client went away; cancelled the run on thread %s", thread_id)
                raise
            finally:
                self.metrics.in_flight.dec()
                await source.aclose()
