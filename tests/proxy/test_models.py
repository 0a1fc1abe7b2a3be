"""Tests for proxy/models.py: the model directory on disk (load, activate, roll back, reload)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from classifiers.artifact import Model, load_model, seal
from classifiers.errors import ArtifactError
from proxy.models import ModelRegistry, bundled_model_bytes, read_model_file
from tests.factories import artifact_content


def _sealed(*slugs: str) -> bytes:
    return seal(artifact_content([[1.0, 0.0], [0.0, 1.0]], slugs=slugs))


A = _sealed("alpha", "beta")
B = _sealed("gamma", "delta")
C = _sealed("eps", "zeta")


class _Swaps:
    """What serves the registry's models (the engine's side): records every model swapped in;
    ``fail`` names a slug whose warm-up raises."""

    def __init__(self, fail: str | None = None) -> None:
        self.models: list[Model] = []
        self.fail = fail

    @property
    def serving(self) -> Model | None:
        return self.models[-1] if self.models else None

    def activate(self, model: Model) -> None:
        if model.slugs[0] == self.fail:
            raise RuntimeError("warm-up failed")
        self.models.append(model)

    @property
    def versions(self) -> list[str]:
        return [m.version for m in self.models]


def _registry(tmp_path: Path, **kw: object) -> tuple[ModelRegistry, _Swaps]:
    swaps = _Swaps(kw.pop("fail", None))  # type: ignore[arg-type]
    return ModelRegistry(tmp_path / "models", swaps, **kw), swaps  # type: ignore[arg-type]


def test_read_model_file_names_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read model .*missing.json"):
        read_model_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"format": 1')
    with pytest.raises(ArtifactError, match="bad.json.* refused"):
        read_model_file(bad)
    good = tmp_path / "good.json"
    good.write_bytes(A)
    assert read_model_file(good).version == load_model(A).version


def test_startup_serves_and_remembers_the_bundled_model(tmp_path: Path) -> None:
    registry, swaps = _registry(tmp_path)
    model = registry.startup()
    bundled = load_model(bundled_model_bytes())
    assert model is not None and model.version == bundled.version
    assert swaps.versions == [bundled.version] and registry.active is model
    assert registry.history() == [bundled.version + " bundled"]
    assert (tmp_path / "models" / f"{bundled.version}.json").exists()


def test_add_keeps_a_model_without_activating_it(tmp_path: Path) -> None:
    registry, swaps = _registry(tmp_path)
    model = registry.add(A)
    assert registry.path_of(model.version).read_bytes() == model.to_bytes()
    assert swaps.models == [] and registry.active is None and registry.history() == []
    with pytest.raises(ArtifactError):
        registry.add(b'{"format": 1, "version": "x"}')


def test_activate_swaps_and_appends_to_the_history(tmp_path: Path) -> None:
    registry, swaps = _registry(tmp_path)
    a, b = registry.add(A), registry.add(B)
    registry.activate(a.version)
    registry.activate(b.version)
    registry.activate(b.version)  # again: no repeated history line
    assert swaps.versions == [a.version, b.version, b.version]
    assert registry.versions_history() == [a.version, b.version]
    listed = {m["version"]: m["active"] for m in registry.versions()}
    assert listed == {a.version: False, b.version: True}


@pytest.mark.parametrize("version", ["nope", "../models/x", ".hidden", "a/b", ""])
def test_activate_refuses_unknown_or_unsafe_versions(tmp_path: Path, version: str) -> None:
    registry, swaps = _registry(tmp_path)
    registry.add(A)
    with pytest.raises(KeyError, match="no model version"):
        registry.activate(version)
    assert swaps.models == []


def test_rollback_walks_back_the_history(tmp_path: Path) -> None:
    registry, swaps = _registry(tmp_path)
    a, b, c = registry.add(A), registry.add(B), registry.add(C)
    for m in (a, b, c):
        registry.activate(m.version)
    assert registry.rollback().version == b.version
    assert registry.versions_history() == [a.version, b.version]
    assert registry.rollback().version == a.version
    assert registry.active is not None and registry.active.version == a.version
    with pytest.raises(KeyError, match="no previous model version"):
        registry.rollback()
    assert swaps.versions[-2:] == [b.version, a.version]
    # The versions stay on disk after a rollback.
    assert {m["version"] for m in registry.versions()} == {a.version, b.version, c.version}


def test_startup_restores_the_last_activated_version(tmp_path: Path) -> None:
    first, _ = _registry(tmp_path)
    a, b = first.add(A), first.add(B)
    first.activate(a.version)
    first.activate(b.version)
    again, swaps = _registry(tmp_path)  # a restart
    assert again.startup() is not None
    assert swaps.versions == [b.version]


def test_startup_skips_a_corrupted_stored_version(tmp_path: Path) -> None:
    first, _ = _registry(tmp_path)
    a, b = first.add(A), first.add(B)
    first.activate(a.version)
    first.activate(b.version)
    first.path_of(b.version).write_bytes(b"{ torn")
    again, swaps = _registry(tmp_path)
    assert again.startup() is not None
    assert swaps.versions == [a.version]
    assert {m["version"]: m["valid"] for m in again.versions()} == {a.version: True,
                                                                    b.version: False}


def test_model_file_wins_at_startup_and_reload_follows_it(tmp_path: Path) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_bytes(A)
    registry, swaps = _registry(tmp_path, model_file=str(model_file))
    a = registry.startup()
    assert a is not None and swaps.versions == [a.version]
    assert registry.reload() is a  # same file, same version: nothing swapped
    assert len(swaps.models) == 1
    model_file.write_bytes(B)
    b = registry.reload()
    assert b is not None and b.version != a.version and swaps.versions[-1] == b.version
    assert registry.versions_history()[-1] == b.version


def test_reload_of_a_bad_file_keeps_the_running_model(tmp_path: Path) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_bytes(A)
    registry, swaps = _registry(tmp_path, model_file=str(model_file))
    a = registry.startup()
    model_file.write_bytes(b'{"format": 1, "version": "trunc')
    assert registry.reload() is None
    assert registry.active is a and len(swaps.models) == 1


def test_explicit_model_file_that_is_bad_refuses_startup(tmp_path: Path) -> None:
    model_file = tmp_path / "model.json"
    model_file.write_bytes(b"not json")
    registry, swaps = _registry(tmp_path, model_file=str(model_file))
    with pytest.raises(ArtifactError, match="model.json"):
        registry.startup()
    assert swaps.models == []


def test_a_read_only_model_directory_does_not_stop_startup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(path: Path, data: bytes) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("proxy.models._atomic_write", refuse)  # tests run as root: no chmod
    registry, swaps = _registry(tmp_path)
    assert registry.startup() is not None and len(swaps.models) == 1
    assert registry.history() == []


def test_a_swap_that_fails_leaves_the_active_model(tmp_path: Path) -> None:
    registry, _ = _registry(tmp_path, fail="gamma")
    a, b = registry.add(A), registry.add(B)
    registry.activate(a.version)
    with pytest.raises(RuntimeError):
        registry.activate(b.version)
    assert registry.active is not None and registry.active.version == a.version
    assert registry.versions_history() == [a.version]
