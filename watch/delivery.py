"""Webhook delivery on a background thread: Slack-compatible JSON, retried with exponential backoff.

Questions never wait on a webhook: ``send`` only queues; one worker thread posts, and a failing or slow
receiver delays other deliveries, never a request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

MAX_TEXT = 3000  # a Slack section block holds at most 3000 characters


@dataclass(frozen=True)
class Delivery:
    """One webhook post and where its outcome goes."""

    url: str
    payload: dict[str, Any]
    done: Callable[[str], None] | None = None


def slack_payload(title: str, text: str, link: str | None = None) -> dict[str, Any]:
    """A message Slack incoming webhooks accept (``text`` plus blocks); other receivers read ``text``."""
    body = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body}},
    ]
    if link:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"chart: {link}"}]})
    return {"text": f"{title}: {body}"[:MAX_TEXT], "blocks": blocks}


class WebhookSender:
    """Posts queued deliveries, retrying failures ``retries`` times with doubling waits from ``backoff_s``."""

    def __init__(self, *, retries: int = 4, backoff_s: float = 1.0, timeout_s: float = 10.0) -> None:
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        """Queue ``delivery``; returns at once."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="uba-webhooks", daemon=True)
                self._thread.start()
        self._queue.put(delivery)

    def join(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued delivery finished (tests, the CLI before it exits); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def _work(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                outcome = self.post(delivery)
                if delivery.done is not None:
                    delivery.done(outcome)
            except Exception:  # noqa: BLE001 - the worker must outlive one bad delivery; it is logged
                logger.exception("webhook delivery to %s failed unexpectedly", delivery and delivery.url)
            finally:
                self._queue.task_done()

    def post(self, delivery: Delivery) -> str:
        """Post with retries; the outcome as recorded on the run (``delivered ...`` or ``failed ...``)."""
        wait, problem = self.backoff_s, ""
        for attempt in range(1, self.retries + 2):
            try:
                response = httpx.post(delivery.url, json=delivery.payload, timeout=self.timeout_s)
                if response.status_code < 300:
                    logger.info("webhook %s: delivered (attempt %d)", delivery.url, attempt)
                    return f"delivered (attempt {attempt})"
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
                    break  # the receiver refuses this message; sending it again will not help
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            logger.warning("webhook %s: attempt %d failed (%s)", delivery.url, attempt, problem)
            if attempt <= self.retries:
                time.sleep(wait)
                wait *= 2
        logger.error("webhook %s: giving up after %d attempt(s): %s", delivery.url, attempt, problem)
        return f"failed after {attempt} attempt(s): {problem}"
