"""The model artifact: one JSON document, validated once, turned into an immutable ``Model``.

pydantic checks the file's shape; ``load_model`` then checks what a schema cannot (shapes agree,
slugs unique, the version is the content hash) and builds the runtime object with C-contiguous
float64 arrays. Bytes in, bytes out: no file I/O here (the proxy reads and writes files).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifiers import requirements as _req
from classifiers.errors import ArtifactError

FORMAT: Literal[1] = 1
TRANSFORMS = ("identity", "log1p", "sqrt")
UNDETERMINED = "undetermined"  # reserved: the class of a session no centroid claims
MIN_CLASSES = 2
MAX_CLASSES = 64

Transform = Literal["identity", "log1p", "sqrt"]
Algorithm = Literal["kmeans", "minibatch-kmeans", "dbscan", "quantile-fallback"]

_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_FEATURE = r"^[a-z][a-z0-9_]{0,62}$"
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.[0-9a-f]{6}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

WIRE_DIGITS = 12  # values computed for the file are rounded: shorter, the same on every machine

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Text = Annotated[str, Field(max_length=2000)]


class _Frozen(BaseModel):
    # strict: no "1.5" -> 1.5 coercion; an int is still accepted where a float is expected.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class FeatureSpec(_Frozen):
    name: Annotated[str, Field(pattern=_FEATURE)]
    transform: Transform


class Scaler(_Frozen):
    """``z = (x - mean) / scale`` per feature, in the transformed space."""

    mean: list[float]
    scale: list[float]


class Characteristic(_Frozen):
    """One distinguishing signal of a class: raw values (class vs population) and its z."""

    signal: str
    importance: Unit
    value: float
    population_value: float
    z: float


class Rule(_Frozen):
    """A filter a person can read; ``fidelity`` is its agreement with class membership."""

    text: Annotated[str, Field(min_length=1, max_length=500)]
    fidelity: Unit
    precision: Unit = 0.0
    recall: Unit = 0.0


class Requirement(_Frozen):
    """A behaviour a class rests on: the class is only given to a session whose raw value of
    ``signal`` (before the feature transform and the scaler, e.g. the decayed ``cart_adds``
    count) is at least ``min``."""

    signal: Annotated[str, Field(pattern=_FEATURE)]
    min: Annotated[float, Field(gt=0.0)]


class ClassCard(_Frozen):
    slug: Annotated[str, Field(pattern=_SLUG)]
    display_name: Annotated[str, Field(min_length=1, max_length=80)]
    description: Text = ""
    suggested_use: Text = ""
    size: Annotated[int, Field(ge=0)]
    percentage: Annotated[float, Field(ge=0.0, le=100.0)]
    radius: Annotated[float, Field(gt=0.0)]
    characteristics: list[Characteristic] = []
    rules: list[Rule] = []
    # Not strict: JSON gives a list; the runtime wants an immutable tuple.
    requires: Annotated[tuple[Requirement, ...], Field(strict=False)] = ()
    # Share of the class's training states whose session's next state has the same class (the
    # model's own assignment, requirements applied, no hysteresis); None: not measured.
    persistence: Unit | None = None


class KScore(_Frozen):
    """What ``fit`` measured for one k (see docs/models.md for the rule that picks k)."""

    k: Annotated[int, Field(ge=1)]
    silhouette: Annotated[float, Field(ge=-1.0, le=1.0)]
    stability: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None  # bootstrap mean ARI
    smallest_share: Unit | None = None
    purchase_rates: list[Unit] = []  # per class, when the data has purchases
    separation: Unit | None = None  # 2·AUC − 1 of ranking buyers by their class's rate


class TrainingReport(_Frozen):
    algorithm: Algorithm
    k_tried: list[int] = []
    k_rule: Text = ""
    silhouette_by_k: list[KScore] = []
    data_source: Text = ""
    rows: Annotated[int, Field(ge=0)] = 0
    noise_rows: Annotated[int, Field(ge=0)] = 0
    random_state: int | None = None
    fallback: bool = False
    missing_signals: list[str] = []
    notes: list[Text] = []
    warnings: list[Text] = []


class Artifact(_Frozen):
    """The whole file. ``version`` is ``<created_at date>.<6 hex of sha256(content)>``."""

    format: Literal[1] = FORMAT
    version: str
    created_at: Annotated[str, Field(min_length=10, max_length=40)]
    features: list[FeatureSpec]
    scaler: Scaler
    temperature: Annotated[float, Field(gt=0.0)]
    centroids: list[list[float]]
    classes: list[ClassCard]
    report: TrainingReport


@dataclass(frozen=True, slots=True, eq=False)
class Model:
    """The runtime model: immutable, built once per artifact, swapped in by one assignment.

    Arrays are C-contiguous float64 and read-only: ``mean``/``inv_scale`` ``(d,)``,
    ``centroids`` ``(k, d)`` in scaled space, ``radius2`` ``(k,)`` (squared scaled distance
    beyond which a point belongs to no class, measured one-sided: see ``sides``).

    ``requirements`` holds each class's ``(signal, raw minimum)`` pairs (from the artifact, or
    derived by ``classifiers.requirements`` when no class in it carries any:
    ``requirements_derived``); ``req_bounds`` ``(k, d)`` the same minimums in transformed space
    (``-inf``: none); ``sides`` ``(k, d)`` the direction (+1/-1/0) each class defines on each
    feature, beyond which the radius rule ignores distance.
    """

    version: str
    created_at: str
    feature_names: tuple[str, ...]
    transforms: tuple[str, ...]
    mean: npt.NDArray[np.float64]
    inv_scale: npt.NDArray[np.float64]
    centroids: npt.NDArray[np.float64]
    radius2: npt.NDArray[np.float64]
    temperature: float
    slugs: tuple[str, ...]
    display_names: tuple[str, ...]
    class_header_values: tuple[bytes, ...]
    artifact: Artifact
    requirements: tuple[tuple[tuple[str, float], ...], ...] = ()
    requirements_derived: bool = False
    req_bounds: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    sides: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def k(self) -> int:
        return len(self.slugs)

    @property
    def d(self) -> int:
        return len(self.feature_names)

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, two-space indent): the same content gives the same bytes."""
        return _pretty(self.artifact)

    def segments(self) -> list[dict[str, Any]]:
        """The segment cards as JSON-ready dicts (admin API, report), centroid in z units added."""
        out = []
        for i, card in enumerate(self.artifact.classes):
            item = card.model_dump(mode="json")
            item["centroid_z"] = dict(zip(self.feature_names, self.centroids[i].tolist(),
                                          strict=True))
            out.append(item)
        return out


def wire(values: Iterable[float]) -> list[float]:
    """``values`` rounded to ``WIRE_DIGITS`` decimals, as written to the file."""
    # Python's round (correctly rounded), not np.round (scaled, can differ in the last bit).
    return [round(float(v), WIRE_DIGITS) for v in values]


def _dump(artifact: Artifact, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """The artifact as JSON-ready data; a class's empty ``requires`` and unmeasured
    ``persistence`` are left out, so artifacts written before they existed keep their content
    hash (and version)."""
    out: dict[str, Any] = artifact.model_dump(mode="json", exclude=exclude)
    for card in out["classes"]:
        if not card.get("requires"):
            card.pop("requires", None)
        if card.get("persistence") is None:
            card.pop("persistence", None)
    return out


def content_hash(artifact: Artifact) -> str:
    """sha256 hex of the canonical content without the ``version`` field."""
    body = orjson.dumps(_dump(artifact, exclude={"version"}), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(body).hexdigest()


def version_of(artifact: Artifact) -> str:
    return f"{artifact.created_at[:10]}.{content_hash(artifact)[:6]}"


def seal(content: Mapping[str, Any]) -> bytes:
    """Validate artifact ``content`` (any ``version`` in it is replaced), stamp the version
    derived from the content hash and return the canonical bytes. Raises ``ArtifactError``."""
    draft = _validate(dict(content, version="0000-00-00.000000"))
    sealed = draft.model_copy(update={"version": version_of(draft)})
    _check(sealed)
    return _pretty(sealed)


def load_model(data: bytes | str, *, known_features: Collection[str] | None = None) -> Model:
    """Validate an artifact and build the runtime ``Model``.

    ``known_features``, when given, are the feature names the caller can compute; a model naming
    any other feature is refused. Every problem raises ``ArtifactError`` naming it.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ArtifactError("artifact must be a JSON object")
    artifact = _validate(raw)
    _check(artifact)
    expected = version_of(artifact)
    if artifact.version != expected:
        raise ArtifactError(
            f"version {artifact.version!r} does not match the content hash (expected "
            f"{expected!r}): the file was edited after it was sealed"
        )
    names = tuple(f.name for f in artifact.features)
    if known_features is not None:
        unknown = [n for n in names if n not in known_features]
        if unknown:
            raise ArtifactError(f"model names unknown features: {', '.join(unknown)}")
    return _build(artifact, names)


def _pretty(artifact: Artifact) -> bytes:
    return orjson.dumps(_dump(artifact),
                        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def _validate(raw: dict[str, Any]) -> Artifact:
    try:
        return Artifact.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'artifact'}: {err['msg']}"
            for err in exc.errors()[:5]
        ]
        more = exc.error_count() - len(problems)
        suffix = f" (and {more} more)" if more > 0 else ""
        raise ArtifactError("; ".join(problems) + suffix) from None


def _check(a: Artifact) -> None:
    """Consistency the schema cannot express."""
    if not _VERSION_RE.match(a.version):
        raise ArtifactError(f"version {a.version!r} is not YYYY-MM-DD.<6 hex>")
    try:
        date.fromisoformat(a.created_at[:10])
    except ValueError:
        raise ArtifactError(f"created_at {a.created_at!r} does not start with a date") from None
    d = len(a.features)
    if d == 0:
        raise ArtifactError("features: at least one feature is required")
    names = [f.name for f in a.features]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ArtifactError(f"features: duplicate names {', '.join(dupes)}")
    if len(a.scaler.mean) != d or len(a.scaler.scale) != d:
        raise ArtifactError(
            f"scaler: mean has {len(a.scaler.mean)} and scale {len(a.scaler.scale)} values "
            f"for {d} features"
        )
    # 1/scale must stay finite too: the runtime multiplies by the inverse.
    bad = [names[i] for i, s in enumerate(a.scaler.scale) if not (s > 0.0 and 1.0 / s < 1e300)]
    if bad:
        raise ArtifactError(f"scaler: scale must be > 0 (features {', '.join(bad)})")
    k = len(a.centroids)
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        raise ArtifactError(f"centroids: k={k}, need {MIN_CLASSES}..{MAX_CLASSES} classes")
    for i, row in enumerate(a.centroids):
        if len(row) != d:
            raise ArtifactError(f"centroids: row {i} has {len(row)} values for {d} features")
    if len(a.classes) != k:
        raise ArtifactError(f"classes: {len(a.classes)} cards for {k} centroids")
    slugs = [c.slug for c in a.classes]
    dupes = sorted({s for s in slugs if slugs.count(s) > 1})
    if dupes:
        raise ArtifactError(f"classes: duplicate slugs {', '.join(dupes)}")
    if UNDETERMINED in slugs:
        raise ArtifactError(f"classes: slug {UNDETERMINED!r} is reserved")
    known = set(names)
    for card in a.classes:
        if _CONTROL_RE.search(card.display_name):
            raise ArtifactError(f"classes.{card.slug}: display_name has control characters")
        for ch in card.characteristics:
            if ch.signal not in known:
                raise ArtifactError(
                    f"classes.{card.slug}: characteristic names unknown signal {ch.signal!r}"
                )
        seen: set[str] = set()
        for req in card.requires:
            if req.signal not in known:
                raise ArtifactError(
                    f"classes.{card.slug}: requirement names unknown signal {req.signal!r}"
                )
            if req.signal in seen:
                raise ArtifactError(
                    f"classes.{card.slug}: signal {req.signal!r} required twice"
                )
            seen.add(req.signal)


def _array(values: Any, shape: tuple[int, ...]) -> npt.NDArray[np.float64]:
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(shape))
    arr.flags.writeable = False
    return arr


def _build(a: Artifact, names: tuple[str, ...]) -> Model:
    d, k = len(names), len(a.centroids)
    scale = np.asarray(a.scaler.scale, dtype=np.float64)
    radius = np.asarray([c.radius for c in a.classes], dtype=np.float64)
    slugs = tuple(c.slug for c in a.classes)
    centroids = _array(a.centroids, (k, d))
    transforms = tuple(f.transform for f in a.features)
    reqs = tuple(tuple((r.signal, float(r.min)) for r in c.requires) for c in a.classes)
    derived = not any(reqs)
    if derived:
        reqs = tuple(
            _req.derive((c.slug, c.display_name, c.description), names, centroids[i].tolist())
            for i, c in enumerate(a.classes)
        )
    req_bounds = _req.bounds(reqs, names, transforms)
    sides = _req.sides(centroids, req_bounds)
    req_bounds.flags.writeable = False
    sides.flags.writeable = False
    return Model(
        version=a.version,
        created_at=a.created_at,
        feature_names=names,
        transforms=transforms,
        mean=_array(a.scaler.mean, (d,)),
        inv_scale=_array(1.0 / scale, (d,)),
        centroids=centroids,
        radius2=_array(radius * radius, (k,)),
        temperature=float(a.temperature),
        slugs=slugs,
        display_names=tuple(c.display_name for c in a.classes),
        class_header_values=tuple(s.encode("ascii") for s in slugs),
        artifact=a,
        requirements=reqs,
        requirements_derived=derived and any(reqs),
        req_bounds=req_bounds,
        sides=sides,
    )
