"""The command line explains itself: every command with bad input says one line and exits 2, every
option has help text and shows its default, and the top-level help lists every command."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.bench import run as bench
from proxy.commands import cli, offline
from proxy.commands.parse import Parser, port_problem


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTGATE_")}
    return subprocess.run([sys.executable, "-m", "proxy.commands.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env=env)


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr and "Value error" not in proc.stderr
    assert proc.stdout == ""


@pytest.fixture
def busy_port() -> Any:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    malformed = tmp_path / "events.jsonl"
    malformed.write_text('{"session": "a"\nnot json at all\n\n{"ts": 1}\n')
    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello\n")
    return {"malformed": malformed, "not_a_model": not_a_model, "dir": tmp_path}


def test_every_command_with_bad_input_says_one_line_and_exits_2(
    busy_port: int, bad_files: dict[str, Path],
) -> None:
    tmp = bad_files["dir"]
    cases: list[tuple[tuple[str, ...], str]] = [
        (("serve", "--upstream", "ftp://shop"), "must be an absolute http:// or https:// URL"),
        (("serve", "--upstream", "http://127.0.0.1:9", "--port", str(busy_port),
          "--data-dir", str(tmp)), "already in use"),
        (("serve", "--upstream", "http://127.0.0.1:9", "--port", "0", "--model",
          str(bad_files["not_a_model"]), "--data-dir", str(tmp)), "refused: not valid JSON"),
        (("serve", "--upstream", "http://127.0.0.1:9", "--admin-token", "short"),
         "invalid admin_token: a token must be at least"),
        (("serve", "--upstream", "http://127.0.0.1:9", "--workers", "many"),
         "argument --workers: invalid int value"),
        (("demo-shop", "--port", str(busy_port)), "already in use"),
        (("demo-shop", "--port", "eighty"), "argument --port: invalid int value"),
        (("fit", str(bad_files["malformed"]), "--out", str(tmp / "m.json")),
         "first: " + f"{bad_files['malformed']}:1, {bad_files['malformed']}:2"),
        (("fit", str(tmp / "missing.jsonl"), "--out", str(tmp / "m.json")), "no such file"),
        (("fit", str(bad_files["malformed"])), "the following arguments are required: --out"),
        (("evaluate", str(tmp / "missing.json"), str(bad_files["malformed"])),
         "no such model file"),
        (("evaluate", str(bad_files["not_a_model"]), str(bad_files["malformed"])),
         "is not an intentgate model"),
        (("import", "--format", "amazon", "x.csv"), "argument --format: invalid choice"),
        (("import", "--format", "otto", str(tmp / "missing.csv")), "no such file"),
        (("bench", "--rounds", "five"), "argument --rounds: invalid int value"),
        (("bench", "--targets", "nginx,teleport", "--no-micro"), "unknown target 'teleport'"),
        (("teleport",), "invalid choice: 'teleport'"),
    ]
    for args, needle in cases:
        _one_line_exit_2(_run(*args), needle)


def test_fit_names_the_first_malformed_lines_and_still_fits(tmp_path: Path) -> None:
    lines = []
    for s in range(6):
        for i in range(4):
            kind = "product_view" if (s + i) % 3 else "search"
            lines.append(f'{{"session": "s{s}", "ts": {1000 + 60 * i}, "kind": "{kind}", '
                         f'"product": "p{i}"}}')
    lines.insert(2, "garbage")
    src = tmp_path / "events.jsonl"
    src.write_text("\n".join(lines) + "\n")
    proc = _run("fit", str(src), "--out", str(tmp_path / "m.json"), "--max-k", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"1 malformed line skipped (first: {src}:3)" in proc.stderr


class _Stop(Exception):
    pass


def _collect_parsers(monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.ArgumentParser]:
    """Every parser the CLI builds, caught as it is about to parse."""
    caught: dict[str, argparse.ArgumentParser] = {}

    def grab(self: argparse.ArgumentParser, *a: Any, **k: Any) -> Any:
        caught[self.prog] = self
        raise _Stop

    monkeypatch.setattr(Parser, "parse_args", grab)
    top = cli._parser()
    caught["intentgate"] = top
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        caught.setdefault(f"intentgate {name}", parser)
    runners: list[Callable[[], Any]] = [
        lambda: bench.main([]),
        *[(lambda c=c: offline.COMMANDS[c]([])) for c in offline.COMMANDS],
    ]
    for run in runners:
        with pytest.raises(_Stop):
            run()
    return caught


def test_every_option_has_help_text_and_shows_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsers = _collect_parsers(monkeypatch)
    for prog in ("intentgate serve", "intentgate demo-shop", "intentgate bench",
                 "intentgate fit", "intentgate evaluate", "intentgate import",
                 "intentgate fit-bundled"):
        assert prog in parsers, prog
    for prog, parser in parsers.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.help is argparse.SUPPRESS or isinstance(
                    action, (argparse._HelpAction, argparse._VersionAction,
                             argparse._SubParsersAction)):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help, f"{prog} {name} has no help text"
            shown = formatter._get_help_string(action) or ""
            if not action.option_strings or isinstance(action, argparse._StoreTrueAction):
                continue
            assert "default" in shown or "required" in shown, \
                f"{prog} {name}: help shows no default: {shown!r}"


def test_top_level_help_lists_every_command_in_plain_text() -> None:
    proc = _run("--help")
    assert proc.returncode == 0
    listed = {line.split()[0] for line in proc.stdout.split("commands:")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")}
    sub = next(a for a in cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert listed == set(sub.choices) >= {"serve", "demo-shop", "bench", "fit", "import",
                                          "evaluate", "fit-bundled"}
    assert "``" not in proc.stdout and "{" not in proc.stdout


def test_port_problem_is_none_for_a_free_port_and_names_a_taken_one(busy_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert port_problem("127.0.0.1", free) is None
    assert "already in use" in (port_problem("127.0.0.1", busy_port) or "")


def test_demo_shop_without_its_extra_says_what_to_install() -> None:
    # starlette is the `demo` extra: serving does not need it. Without it, demo-shop says so in
    # one line (here starlette is made unimportable in the child process).
    code = ("import sys; sys.modules['starlette'] = None; "
            "from proxy.commands.cli import main; raise SystemExit(main(['demo-shop']))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTGATE_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    _one_line_exit_2(proc, "pip install 'intentgate[demo]'")
