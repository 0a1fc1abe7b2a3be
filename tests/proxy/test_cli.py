"""The command line: one line naming the problem and exit status 2 for anything bad."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy.commands.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_cli_version() -> None:
    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("intentgate ")


@pytest.mark.parametrize(("args", "needle"), [
    (("serve", "--bogus"), "--bogus"),
    (("serve", "--upstream", "http://a:1", "--port", "99999"), "port"),
    (("serve", "--upstream", "ftp://a"), "upstream"),
    (("serve",), "--upstream is required"),
    (("serve", "--upstream", "http://a:1", "--redis-url", "http://r:1"), "redis_url"),
    (("serve", "--upstream", "http://a:1", "--preset", "nope"), "unknown preset 'nope'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], needle: str,
                                              tmp_path: Path) -> None:
    proc = _run(*args, "--data-dir", str(tmp_path)) if args[0] == "serve" and len(args) > 1 \
        else _run(*args)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_cli_bad_rule_in_the_config_file_names_the_rule(tmp_path: Path) -> None:
    cfg = tmp_path / "ig.toml"
    cfg.write_text('upstream = "http://a:1"\n[[rules]]\nname = "mine"\nkind = "teleport"\n'
                   'path = "/x"\n')
    proc = _run("serve", "--config", str(cfg), "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "mine" in proc.stderr and "teleport" in proc.stderr
