"""The HTTP API (OpenAI-compatible chat, /v1/ask, threads, health, metrics) with the web app mounted."""

from ui.api.app import create_app
from ui.api.keys import ApiKey, KeyStore

__all__ = ["ApiKey", "KeyStore", "create_app"]
