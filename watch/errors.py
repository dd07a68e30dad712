"""The watch package's errors."""

from __future__ import annotations


class WatchError(ValueError):
    """A report, alert or schedule that cannot be saved or run; the message names the value and the fix."""
