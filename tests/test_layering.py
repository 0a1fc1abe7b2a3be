"""The import rules of STYLE.md, checked on every module's imports.

signals and classifiers import no other intentgate package; explain imports only signals and
classifiers; scikit-learn is imported only by classifiers' offline modules; nothing imports
loadtests.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("proxy", "classifiers", "signals", "explain")
ALLOWED = {
    "signals": set(),
    "classifiers": set(),
    "explain": {"signals", "classifiers"},
    "proxy": {"signals", "classifiers", "explain"},
}
# Modules that may import scikit-learn: only what the fit/evaluate commands load.
SKLEARN_OK = {"classifiers/fit.py", "classifiers/naming.py"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_allowed_packages(path: Path) -> None:
    pkg = path.relative_to(ROOT).parts[0]
    for name in _imports(path):
        top = name.split(".")[0]
        if top in PACKAGES and top != pkg:
            assert top in ALLOWED[pkg], f"{path.relative_to(ROOT)} imports {name}"
        assert top != "loadtests", f"{path.relative_to(ROOT)} imports {name}"
        if top == "sklearn":
            rel = str(path.relative_to(ROOT))
            assert rel in SKLEARN_OK, f"{rel} imports scikit-learn"


def test_layering_check_sees_a_forbidden_edge(tmp_path: Path) -> None:
    bad = tmp_path / "mod.py"
    bad.write_text("from proxy.engine import Engine\nimport signals.events\n")
    assert {"proxy.engine", "signals.events"} <= _imports(bad)


# Inside proxy: the serving path at the top level never reaches into the admin surface, the
# command line or the bench; the admin surface never into the command line or the bench; and
# only the command line starts the bench. ``app``, ``middleware`` and ``experiments`` mount the
# admin surface, so they are the serving modules allowed to import it.
MOUNTS_ADMIN = {"proxy/app.py", "proxy/middleware.py", "proxy/experiments.py", "proxy/instance.py"}
SUBPACKAGE_ALLOWED = {
    "proxy": {"proxy.admin"},
    "proxy.admin": set(),
    "proxy.commands": {"proxy.admin", "proxy.bench", "proxy.demo_shop"},
    "proxy.bench": {"proxy.commands"},
    "proxy.demo_shop": set(),
}
GUARDED = ("proxy.admin", "proxy.commands", "proxy.bench", "proxy.demo_shop")


def _subpackage(rel: str) -> str:
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:2]) if len(parts) > 2 else "proxy"


@pytest.mark.parametrize(
    "path", sorted((ROOT / "proxy").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_proxy_subpackages_keep_their_boundaries(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    own = _subpackage(rel)
    allowed = SUBPACKAGE_ALLOWED[own]
    for name in _imports(path):
        for guarded in GUARDED:
            if name != guarded and not name.startswith(guarded + "."):
                continue
            if guarded == own:
                continue
            if own == "proxy" and guarded == "proxy.admin":
                assert rel in MOUNTS_ADMIN, f"{rel} (serving path) imports {name}"
                continue
            assert guarded in allowed, f"{rel} imports {name}"


def test_subpackage_check_sees_a_forbidden_edge(tmp_path: Path) -> None:
    bad = tmp_path / "engine.py"
    bad.write_text("def f():\n    from proxy.commands.offline import fit\n")
    assert "proxy.commands.offline" in _imports(bad)
    assert "proxy.commands" not in SUBPACKAGE_ALLOWED[_subpackage("proxy/engine.py")]
