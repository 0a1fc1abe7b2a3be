"""Model versions on disk: load, activate, roll back, hot-swap — file I/O for ``classifiers``.

A model directory holds one ``<version>.json`` per model ever activated (previous versions stay on
disk) and a small ``ACTIVE`` file (the activation history, newest last) written atomically by
rename. A bad file never replaces the running model: it is refused with the reason and the old
model keeps serving. The bundled model ships inside the ``classifiers`` package.
"""

from __future__ import annotations

import logging
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from classifiers.artifact import Model, load_model
from classifiers.errors import ArtifactError

logger = logging.getLogger(__name__)

BUNDLED = "bundled/model.json"
_HISTORY_KEEP = 50


def bundled_model_bytes() -> bytes:
    return resources.files("classifiers").joinpath(BUNDLED).read_bytes()


def read_model_file(path: str | os.PathLike[str]) -> Model:
    """Load and validate one artifact file; ``ArtifactError`` names the file and the problem."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read model {str(path)!r}: {exc.strerror or exc}") from exc
    try:
        return load_model(data)
    except ArtifactError as exc:
        raise ArtifactError(f"model {str(path)!r} refused: {exc}") from exc


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Serving(Protocol):
    """What serves the models the registry picks (``proxy.engine.Engine``)."""

    @property
    def serving(self) -> Model | None: ...

    def activate(self, model: Model) -> Any: ...


class ModelRegistry:
    """The model directory in front of what serves the model (the engine), which holds the
    one reference to the active model: ``active`` reads it from there."""

    def __init__(
        self,
        directory: Path,
        engine: Serving,
        *,
        model_file: str | None = None,
    ) -> None:
        self.directory = directory
        self.engine = engine
        self.model_file = model_file

    @property
    def active(self) -> Model | None:
        return self.engine.serving

    # -- history ---------------------------------------------------------------------------

    def _history_path(self) -> Path:
        return self.directory / "ACTIVE"

    def history(self) -> list[str]:
        try:
            text = self._history_path().read_text()
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def versions_history(self) -> list[str]:
        """The activation history as bare versions, oldest first."""
        return [h.split()[0] for h in self.history()]

    def _push(self, version: str) -> None:
        hist = [v for v in self.history()][-_HISTORY_KEEP:]
        if not hist or hist[-1] != version:
            hist.append(version)
        _atomic_write(self._history_path(), ("\n".join(hist) + "\n").encode())

    def path_of(self, version: str) -> Path:
        if not version or "/" in version or version.startswith(".") or "\\" in version:
            raise KeyError(version)
        return self.directory / f"{version}.json"

    # -- operations ------------------------------------------------------------------------

    def store(self, model: Model) -> Path:
        """Keep ``model`` in the directory (idempotent: the name is the content's version)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path_of(model.version)
        if not path.exists():
            _atomic_write(path, model.to_bytes())
        return path

    def _activate(self, model: Model) -> Model:
        self.engine.activate(model)  # builds and warms everything, then one reference assignment
        return model

    def use(self, model: Model) -> Model:
        """Serve ``model`` now (the history is the caller's: ``proxy.modelsync``)."""
        return self._activate(model)

    def startup(self) -> Model | None:
        """Pick the model to serve: ``--model`` file, else the directory's active one, else the
        bundled one. Raises ``ArtifactError`` only for an explicit ``--model`` that is bad."""
        if self.model_file is not None:
            model = read_model_file(self.model_file)
            self._keep_and_push(model)
            return self._activate(model)
        hist = self.history()
        bundled = self._bundled()
        if bundled is not None and (not hist or hist[-1].endswith(" bundled")):
            # Never activated anything but the bundled model: follow the installed one, so an
            # upgrade (or `make model`) takes effect.
            self._keep_and_push(bundled, marker=True)
            return self._activate(bundled)
        for version in reversed([h.split()[0] for h in hist]):
            try:
                return self._activate(read_model_file(self.path_of(version)))
            except (ArtifactError, KeyError) as exc:
                logger.error("skipping stored model %s: %s", version, exc)
        if bundled is None:
            logger.warning("no bundled model in this install: forwarding unclassified")
            return None
        self._keep_and_push(bundled, marker=True)
        return self._activate(bundled)

    @staticmethod
    def _bundled() -> Model | None:
        try:
            return load_model(bundled_model_bytes())
        except FileNotFoundError:
            return None

    def _keep_and_push(self, model: Model, *, marker: bool = False) -> None:
        try:
            self.store(model)
            self._push(model.version + (" bundled" if marker else ""))
        except OSError as exc:  # a read-only disk must not stop the proxy from serving
            logger.warning("model directory %s not writable: %s", self.directory, exc)

    def add(self, data: bytes) -> Model:
        """Validate an uploaded artifact and keep it (not activated)."""
        model = load_model(data)
        self.store(model)
        return model

    def activate(self, version: str) -> Model:
        try:
            path = self.path_of(version)
        except KeyError:
            raise KeyError(f"no model version {version!r}") from None
        if not path.exists():
            raise KeyError(f"no model version {version!r}")
        model = read_model_file(path)
        self._activate(model)
        self._push(model.version)
        return model

    def rollback(self) -> Model:
        """Reactivate the version active before the current one."""
        hist = self.versions_history()
        current = self.active.version if self.active is not None else None
        while hist and hist[-1] == current:
            hist.pop()
        if not hist:
            raise KeyError("no previous model version to roll back to")
        target = hist[-1]
        model = read_model_file(self.path_of(target))
        self._activate(model)
        _atomic_write(self._history_path(), ("\n".join(hist) + "\n").encode())
        return model

    def reload(self) -> Model | None:
        """SIGHUP: re-read the ``--model`` file (or the directory's active version). On any
        problem the running model stays and the reason is logged."""
        try:
            if self.model_file is not None:
                model = read_model_file(self.model_file)
            else:
                hist = self.versions_history()
                if not hist:
                    return None
                model = read_model_file(self.path_of(hist[-1]))
        except (ArtifactError, KeyError) as exc:
            logger.error("reload refused, keeping model %s: %s",
                         self.active.version if self.active else None, exc)
            return None
        if self.active is not None and model.version == self.active.version:
            return self.active
        if self.model_file is not None:
            self._keep_and_push(model)
        return self._activate(model)

    def versions(self) -> list[dict[str, Any]]:
        out = []
        active = self.active.version if self.active is not None else None
        if self.directory.is_dir():
            for path in sorted(self.directory.glob("*.json")):
                try:
                    model = read_model_file(path)
                except ArtifactError as exc:
                    out.append({"version": path.stem, "valid": False, "error": str(exc)})
                    continue
                out.append({
                    "version": model.version,
                    "created_at": model.created_at,
                    "classes": list(model.slugs),
                    "active": model.version == active,
                    "valid": True,
                })
        return out
