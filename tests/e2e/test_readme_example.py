"""The README's curl example, run as written against a real proxy in front of the demo shop:
it must print what the README says it prints (tokens aside)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(section: str) -> tuple[str, str]:
    text = README.read_text()
    part = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", part, re.S | re.M)
    script = [body for lang, body in blocks if lang == "bash"]
    output = [body for lang, body in blocks if lang == ""]
    assert script and output, "the section lost its example"
    return script[0], output[0]


def test_readme_stays_short() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_the_readme_curl_example_prints_what_the_readme_shows(
    shop: str, make_proxy: Callable[..., str], tmp_path: Path,
) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    proxy = make_proxy(shop, expose_headers=True)
    script, expected = _blocks("What you will see")
    script = script.replace("localhost:8080", proxy.removeprefix("http://"))
    run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr

    def shape(text: str) -> list[str]:  # tokens and numbers differ from run to run
        out = []
        for line in text.strip().splitlines():
            name, _, value = line.partition(": ")
            if name.lower() in ("x-intent-profile", "x-intent-model", "x-intent-confidence"):
                value = "…"
            elif name.lower() == "x-intent-signals":
                value = ", ".join(p.split("=")[0] for p in value.split(", "))
            out.append(f"{name.lower()}: {value}")
        return out

    assert shape(run.stdout) == shape(expected)
