"""explain: attribution -> header values (and, later, audit records and the merchandiser page
data). Imports signals and classifiers only; never proxy, no web framework."""

from __future__ import annotations

from explain.headers import confidence_value, signals_value, top_signals

__all__ = ["confidence_value", "signals_value", "top_signals"]
