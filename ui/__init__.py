"""Surfaces: the ``uba`` CLI (``ui.cli``), the HTTP API (``ui.api``) and the web app (``ui.web``)."""

__all__: list[str] = []
