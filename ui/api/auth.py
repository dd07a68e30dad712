"""Who is calling: an API key from ``Authorization: Bearer`` or ``X-API-Key``, or loopback dev mode."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from ui.api.errors import ApiError
from ui.api.keys import KeyStore

logger = logging.getLogger(__name__)

AuthMode = Literal["keys", "none"]


@dataclass(frozen=True)
class Caller:
    """The identity a request runs under: owner of its threads, user scope and rate limit."""

    owner: str
    user_scope: str | None = None
    rate_per_min: int | None = None


DEV_CALLER = Caller(owner="dev")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


AuthSetting = Literal["auto", "keys", "none"]


def resolve_mode(setting: AuthSetting, host: str, keys: KeyStore) -> AuthMode:
    """Whether keys are required now; ``none`` is refused on a non-loopback host.

    ``auto`` is dev mode only while the host is loopback and the key store holds no active key:
    the first ``uba keys create`` turns keys on for the next request, without a restart.
    """
    if setting == "none" and not is_loopback(host):
        raise ValueError(
            f"UBA_API_AUTH='none' is only allowed on a loopback host, not {host!r}; "
            "create a key with `uba keys create` and use UBA_API_AUTH=keys"
        )
    if setting == "auto":
        return "none" if is_loopback(host) and not keys.has_active() else "keys"
    return setting


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


class Authenticator:
    """Turns a request into a Caller or a 401, deciding from the key store as it is at that request."""

    def __init__(self, keys: KeyStore, setting: AuthSetting, host: str) -> None:
        resolve_mode(setting, host, keys)  # refuse an impossible setting at start-up
        self.keys = keys
        self.setting = setting
        self.host = host

    @property
    def mode(self) -> AuthMode:
        """``keys`` or ``none`` as of now (a key created while the server runs counts at once)."""
        return resolve_mode(self.setting, self.host, self.keys)

    def caller(self, request: Request) -> Caller:
        """The request's Caller; 401 with a clear message when the key is missing or wrong."""
        token = _token(request)
        mode = self.mode
        if token is None:
            if mode == "none":
                return DEV_CALLER
            raise ApiError(
                401,
                "missing API key; send 'Authorization: Bearer <key>' (create one with `uba keys create`)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if mode == "none" and not token.startswith("uba_"):
            return DEV_CALLER  # OpenAI clients insist on sending some key; dev mode ignores foreign ones
        key = self.keys.verify(token)
        if key is None:
            raise ApiError(
                401,
                "invalid or revoked API key; check the key or create a new one with `uba keys create`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Caller(owner=f"key:{key.key_id}", user_scope=key.user_scope, rate_per_min=key.rate_per_min)
