"""Running one question for any surface: thread claim and lock, rate limit, timeout, metrics, 503s."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

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
        concurrency: int = 8,
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
        # The analyst is synchronous and CPU-bound: a fixed pool of workers runs it, questions beyond
        # that wait in line (the wait is measured apart from the analyst's time and the server's own).
        self._workers = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="uba-analyst")
        self._slots = asyncio.Semaphore(concurrency)

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

    @property
    def state(self) -> str:
        """``ready`` (model loaded, static prompt cached), ``warming`` (not yet) or ``failed`` (see build_error)."""
        if self.build_error:
            return "failed"
        analyst = self._analyst
        return "ready" if analyst is not None and getattr(analyst, "warmed", True) else "warming"

    def warm(self) -> None:
        """Build the analyst and warm its model up (``uba serve`` runs this in the background at start)."""
        analyst = self.analyst
        warm_up = getattr(analyst, "warm_up", None)
        if callable(warm_up):
            try:
                warm_up()
            except Exception as exc:
                self.build_error = f"{type(exc).__name__}: {exc}"
                raise
            self.build_error = None

    async def _ready_analyst(self, timing: dict[str, float]) -> Any:
        """The built, warmed-up analyst; a question arriving during the warm-up waits here, before its
        own clock starts (``timing["warm_s"]``: how long it waited)."""
        waited = time.perf_counter()
        analyst = await self.get_analyst()
        if not getattr(analyst, "warmed", True):
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.warm)
            except Exception as exc:  # noqa: BLE001 - the question's own model call reports it (a 503)
                logger.warning("warm-up failed: %s: %s", type(exc).__name__, exc)
        timing["warm_s"] = time.perf_counter() - waited
        return analyst

    async def get_analyst(self) -> Any:
        """The analyst, built in a worker thread on first use (503 when the LLM is unavailable)."""
        if self._analyst is not None:
            return self._analyst
        return await asyncio.get_running_loop().run_in_executor(self._workers, lambda: self.analyst)

    @asynccontextmanager
    async def _slot(self, timing: dict[str, float]):
        """A worker slot; ``timing["queue_s"]`` is how long the question waited for it."""
        waited = time.perf_counter()
        async with self._slots:
            timing["queue_s"] = time.perf_counter() - waited
            yield

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
            raise ApiError(
                422,
                f"thread id {thread_id[:40]!r}... must be at most {_MAX_THREAD_ID} printable characters",
                param="thread_id",
            )
        try:
            self.threads.claim(thread_id, caller.owner)
        except ThreadOwnedElsewhere:
            raise ApiError(
                404,
                f"thread {thread_id!r} does not exist for this key; omit it to start a new thread",
                param="thread_id",
            ) from None
        return thread_id

    def _finish(
        self, caller: Caller, surface: str, question: str, thread_id: str, answer: Answer, started: float
    ) -> Answer:
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

    async def answer(
        self, caller: Caller, question: str, thread_id: str, *, surface: str, timing: dict[str, float] | None = None
    ) -> Answer:
        """The whole Answer; 503 when the LLM fails or the question outlives the timeout.

        ``timing`` receives ``queue_s`` (waiting for a worker) and ``analyst_s`` (the analyst's run).
        """
        timing = {} if timing is None else timing
        analyst = await self._ready_analyst(timing)
        with self.guard.hold(thread_id):
            self.metrics.in_flight.inc()
            deadline = time.monotonic() + self.timeout_s
            try:
                async with self._slot(timing):
                    started = time.perf_counter()
                    call = asyncio.get_running_loop().run_in_executor(
                        self._workers,
                        partial(
                            analyst.ask, question, thread_id=thread_id, user_scope=caller.user_scope, owner=caller.owner
                        ),
                    )
                    answer = await asyncio.wait_for(call, max(deadline - time.monotonic(), 0.001))
                    timing["analyst_s"] = time.perf_counter() - started
            except TimeoutError:
                self.metrics.questions.labels(surface=surface, outcome="timeout").inc()
                raise _unavailable(f"no answer within {self.timeout_s:g} s (UBA_API_QUESTION_TIMEOUT_S)") from None
            except LLMError as exc:
                self.metrics.questions.labels(surface=surface, outcome="llm_error").inc()
                raise _unavailable(str(exc)) from exc
            finally:
                self.metrics.in_flight.dec()
            return self._finish(caller, surface, question, thread_id, answer, started)

    def _produce(
        self,
        analyst: Any,
        question: str,
        kwargs: dict,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue,
        stop: threading.Event,
    ) -> None:
        """Run the analyst's event stream in one worker thread; stop pulling as soon as ``stop`` is set."""

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone (server shutting down)
                stop.set()

        iterator = analyst.stream(question, **kwargs)
        try:
            for event in iterator:
                if stop.is_set():
                    break  # the client went away: no further tool or model call starts
                put(("event", event))
            else:
                put(("done", None))
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, which translates it once
            put(("error", exc))
        finally:
            iterator.close()

    async def events(
        self, caller: Caller, question: str, thread_id: str, *, surface: str, timing: dict[str, float] | None = None
    ) -> AsyncIterator[Any]:
        """The analyst's streaming events; the last one is FinalAnswer. Closing the iterator cancels the run."""
        timing = {} if timing is None else timing
        analyst = await self._ready_analyst(timing)
        with self.guard.hold(thread_id):
            self.metrics.in_flight.inc()
            deadline = time.monotonic() + self.timeout_s
            stop = threading.Event()
            finished = False
            tokens: list[AnswerToken] = []
            try:
                async with self._slot(timing):
                    started = time.perf_counter()
                    loop = asyncio.get_running_loop()
                    queue: asyncio.Queue = asyncio.Queue()
                    kwargs = {"thread_id": thread_id, "user_scope": caller.user_scope, "owner": caller.owner}
                    loop.run_in_executor(self._workers, self._produce, analyst, question, kwargs, loop, queue, stop)
                    while True:
                        try:
                            kind, item = await asyncio.wait_for(queue.get(), max(deadline - time.monotonic(), 0.001))
                        except TimeoutError:
                            self.metrics.questions.labels(surface=surface, outcome="timeout").inc()
                            raise _unavailable(
                                f"no answer within {self.timeout_s:g} s (UBA_API_QUESTION_TIMEOUT_S)"
                            ) from None
                        if kind == "error":
                            if isinstance(item, LLMError):
                                self.metrics.questions.labels(surface=surface, outcome="llm_error").inc()
                                raise _unavailable(str(item)) from item
                            raise item
                        if kind == "done":
                            return
                        if isinstance(item, AnswerToken):
                            tokens.append(item)  # held back until the outcome is known: a failure is a 503
                            continue
                        if isinstance(item, FinalAnswer):
                            finished = True
                            timing["analyst_s"] = time.perf_counter() - started
                            answer = self._finish(caller, surface, question, thread_id, item.answer, started)
                            for token in tokens:
                                yield token
                            yield FinalAnswer(answer=answer)
                            return
                        yield item
            except (asyncio.CancelledError, GeneratorExit):
                if not finished:
                    self.metrics.cancelled.inc()
                    self.metrics.questions.labels(surface=surface, outcome="cancelled").inc()
                    logger.info("client went away; cancelled the run on thread %s", thread_id)
                raise
            finally:
                stop.set()
                self.metrics.in_flight.dec()
