"""The Dockerfile's install and warm-up steps, run in a fresh virtualenv (no Docker engine runs
on these machines): a non-editable install of exactly the files the Dockerfile copies must carry
the bundled model and the demo storefront's assets, and the warm-up must fill NUMBA_CACHE_DIR."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_dockerfile_install_and_warmup_steps_work_in_a_fresh_venv(tmp_path: Path) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", dockerfile, re.M)
    context = tmp_path / "src"
    context.mkdir()
    for line in copied:
        for item in line.split():
            src = ROOT / item
            if src.is_dir():
                shutil.copytree(src, context / item,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy(src, context / item)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", str(context)],
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-2000:]
    cache = tmp_path / "numba-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    warm = subprocess.run([str(py), "-m", "proxy.commands.warmup"], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert warm.returncode == 0 and "kernels warm" in warm.stdout, warm.stderr[-2000:]
    assert any(cache.rglob("*.nbi")), "the warm-up left no Numba cache index"
    check = subprocess.run(
        [str(venv / "bin" / "intentgate"), "--version"], capture_output=True, text=True,
        timeout=60, cwd=tmp_path)
    assert check.returncode == 0 and check.stdout.startswith("intentgate ")
    assets = subprocess.run(
        [str(py), "-c", "import importlib.util, pathlib; s = importlib.util.find_spec("
         "'proxy.demo_shop'); print(sorted(p.name for p in pathlib.Path("
         "s.submodule_search_locations[0], 'assets').iterdir()))"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "shop.css" in assets.stdout, assets.stderr[-1000:]
