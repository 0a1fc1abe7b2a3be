"""The argument parser every ``intentgate`` command uses: errors are one line and exit 2, and
every option's help ends with its default. No settings are read here.
"""

from __future__ import annotations

import argparse
import errno
import socket
from typing import Any, NoReturn

EXIT_USAGE = 2


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help when it has a default worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or "(default" in text or default is None or default is False
                or default is argparse.SUPPRESS or default == [] or not text):
            return text
        return text + " (default: %(default)s)"


class RawDescriptionFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``HelpFormatter`` that keeps the description's own line breaks and lists subcommands
    one per line, without argparse's ``{a,b,c}`` header line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):
            return "".join(super(RawDescriptionFormatter, self)._format_action(sub)
                           for sub in action._get_subactions())
        return super()._format_action(action)


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with a one-line error (``PROG: error: ...``) and exit 2,
    instead of the usage block followed by the error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def port_problem(host: str, port: int, flag: str = "--port") -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not allowed, no such address), or None.

    Binds a throwaway socket with ``SO_REUSEADDR`` exactly as the server will, so a port held
    only by connections in TIME_WAIT is not reported; a listening socket is.
    """
    if port == 0:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another intentgate or "
                        f"server?); pick another with {flag}")
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None
