"""explain's exceptions.

    ExplainError
     └── AuditSinkError     an audit sink could not be read or changed (query, erase)

Writing audit records never raises into the proxy: a sink's write errors are counted and logged.
Plain misuse raises ``ValueError``/``KeyError``.
"""

from __future__ import annotations


class ExplainError(Exception):
    """Base of every error raised by the explain package."""


class AuditSinkError(ExplainError):
    """The audit store could not answer a query or an erasure (the reason is the message)."""
