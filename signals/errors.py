"""Exceptions raised by the signals package.

The tree (plain misuse raises the builtin ``ValueError``/``KeyError`` instead)::

    SignalsError
     ├── StoreUnavailable     a profile store (Redis) cannot be reached; callers keep local state
     ├── RuleError            a route rule or preset is invalid (also a ``ValueError``)
     └── BeaconError          a client beacon payload is rejected (also a ``ValueError``)
"""

from __future__ import annotations

from pydantic import ValidationError


class SignalsError(Exception):
    """Base class of every error raised on purpose by ``signals``."""


class StoreUnavailable(SignalsError):
    """The profile store cannot be reached; the message says which and why."""


class RuleError(SignalsError, ValueError):
    """A route rule is invalid; the message names the rule (source, index, name) and the reason."""


class BeaconError(SignalsError, ValueError):
    """A beacon payload is rejected; the message is the reason shown to the client (HTTP 400)."""


def validation_reason(exc: ValidationError) -> str:
    """One line from a pydantic error: the first problem, with where it is."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg
