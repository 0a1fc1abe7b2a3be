"""Tests for classifiers/artifact.py: sealing, validation, the runtime Model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from classifiers.artifact import Model, content_hash, load_model, seal
from classifiers.errors import ArtifactError, ClassifierError
from tests.factories import artifact_content

ROOT = Path(__file__).resolve().parents[2]


def _sealed(**kw: Any) -> bytes:
    return seal(artifact_content(**kw))


def _edit(data: bytes, change: Any) -> bytes:
    """Edit a sealed artifact and keep its (now stale) version."""
    doc = orjson.loads(data)
    change(doc)
    return orjson.dumps(doc)


def _reseal(change: Any) -> bytes:
    """Edit content and let it carry a version that matches (so only the edit can be wrong)."""
    doc = artifact_content()
    change(doc)
    return orjson.dumps(doc | {"version": "2026-11-22.000000"})


def test_seal_stamps_version_from_date_and_content_hash() -> None:
    data = _sealed()
    doc = orjson.loads(data)
    assert doc["version"].startswith("2026-11-22.")
    model = load_model(data)
    assert model.version == doc["version"]
    assert model.version.split(".")[1] == content_hash(model.artifact)[:6]


def test_seal_is_deterministic_and_to_bytes_roundtrips() -> None:
    a, b = _sealed(), _sealed()
    assert a == b
    model = load_model(a)
    assert model.to_bytes() == a
    assert load_model(model.to_bytes()).version == model.version


def test_different_content_gives_different_version() -> None:
    assert load_model(_sealed(temperature=1.0)).version != load_model(
        _sealed(temperature=2.0)).version


def test_model_arrays_are_contiguous_float64_and_read_only() -> None:
    model = load_model(_sealed(mean=[1.0, 2.0, 3.0], scale=[2.0, 4.0, 0.5], radius=[1.0, 2.0, 3.0]))
    assert isinstance(model, Model)
    for arr in (model.mean, model.inv_scale, model.centroids, model.radius2):
        assert arr.dtype == np.float64 and arr.flags.c_contiguous and not arr.flags.writeable
    assert model.centroids.shape == (3, 3) and (model.k, model.d) == (3, 3)
    np.testing.assert_allclose(model.inv_scale, [0.5, 0.25, 2.0])
    np.testing.assert_allclose(model.radius2, [1.0, 4.0, 9.0])
    assert model.class_header_values == (b"class-0", b"class-1", b"class-2")
    assert model.display_names == ("Class 0", "Class 1", "Class 2")
    assert model.transforms == ("log1p",) * 3


def test_segments_are_json_ready_cards_with_centroid() -> None:
    model = load_model(_sealed())
    segments = model.segments()
    orjson.dumps(segments)  # must not raise
    assert segments[1]["slug"] == "class-1"
    assert segments[1]["centroid_z"] == {"product_views": 0.0, "comparisons": 1.0,
                                         "cart_adds": 0.0}
    assert segments[0]["rules"][0]["text"] == "product_views ≥ 3"


def test_edited_file_is_refused_because_version_no_longer_matches() -> None:
    data = _edit(_sealed(), lambda d: d["centroids"][0].__setitem__(0, 5.0))
    with pytest.raises(ArtifactError, match="content hash"):
        load_model(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["centroids"][1].pop(), "row 1 has 2 values for 3 features"),
        (lambda d: (d["centroids"].pop(), d["centroids"].pop(), d["classes"].pop(),
                    d["classes"].pop()), "k=1"),
        (lambda d: d["classes"][1].__setitem__("slug", "class-0"), "duplicate slugs class-0"),
        (lambda d: d["classes"][1].__setitem__("slug", "undetermined"), "reserved"),
        (lambda d: d["classes"][1].__setitem__("slug", "Class One"), "classes.1.slug"),
        (lambda d: d["scaler"]["scale"].__setitem__(2, 0.0), "scale must be > 0"),
        (lambda d: d["scaler"]["mean"].pop(), "scaler: mean has 2"),
        (lambda d: d["classes"].pop(), "2 cards for 3 centroids"),
        (lambda d: d["features"][1].__setitem__("transform", "exp"), "features.1.transform"),
        (lambda d: d["features"][1].__setitem__("name", "product_views"), "duplicate names"),
        (lambda d: d["classes"][0].__setitem__("radius", -1.0), "classes.0.radius"),
        (lambda d: d.__setitem__("temperature", 0), "temperature"),
        (lambda d: d["centroids"][0].__setitem__(0, None), "centroids.0.0"),
        (lambda d: d["centroids"][0].__setitem__(0, "1.5"), "centroids.0.0"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
        (lambda d: d.__setitem__("created_at", "yesterday, 10am"), "created_at"),
        (lambda d: d["classes"][0]["characteristics"][0].__setitem__("signal", "dwell"),
         "unknown signal 'dwell'"),
        (lambda d: d.pop("scaler"), "scaler: Field required"),
    ],
)
def test_inconsistent_artifact_is_refused_naming_the_problem(change: Any, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_model(_reseal(change))
    with pytest.raises(ArtifactError):  # seal refuses the same content
        doc = artifact_content()
        change(doc)
        seal(doc)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON"),
        (b"{\"centroids\": [[NaN]]}", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_non_json_or_non_object_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        load_model(data)


def test_infinite_number_is_refused() -> None:
    text = _sealed().replace(b'"temperature": 1.0', b'"temperature": 1e999')
    assert b"1e999" in text
    with pytest.raises(ArtifactError):
        load_model(text)


def test_unknown_feature_is_refused_when_known_features_given() -> None:
    data = _sealed()
    load_model(data, known_features={"product_views", "comparisons", "cart_adds"})
    with pytest.raises(ArtifactError, match="unknown features: cart_adds"):
        load_model(data, known_features={"product_views", "comparisons"})


def test_artifact_error_is_a_classifier_error() -> None:
    assert issubclass(ArtifactError, ClassifierError)


def test_importing_runtime_modules_loads_no_sklearn_and_compiles_nothing() -> None:
    code = (
        "import sys; import classifiers.artifact, classifiers.kernels as k, classifiers.evaluate, "
        "classifiers.report; "
        "print('sklearn' in sys.modules, len(k.score_one.signatures), len(k.score_rows.signatures))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "0", "0"]
