"""Errors the agent turns into answers: what went wrong with the language model, named for the fix."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error raised by the agent package."""


class LLMError(AgentError):
    """The language model could not produce a usable reply."""


class LLMUnavailableError(LLMError):
    """The model cannot be reached or loaded (server down, weights or runtime missing)."""


class LLMTimeoutError(LLMError):
    """A model call took longer than its timeout."""


class LLMResponseError(LLMError):
    """The model answered with an error status, an empty message, or output that cannot be read."""


class ModelFileError(LLMError):
    """Bundled weights are missing or do not match their recorded size and sha256."""
