"""The Gradio web app for business users, mounted on the API server."""

from ui.web.app import build_web
from ui.web.markdown import safe_markdown

__all__ = ["build_web", "safe_markdown"]
