"""How long a class holds: per class, the share of its training states whose session's next
state has the same class, measured at fit time and stored on each class card (``persistence``).

Confidence (``1 - d_class / d_runner``) says how clearly a state sits in its class, not whether
the session stays there: a class that sessions pass through on their way elsewhere (a short,
quick visit that grows into a longer one) can be given at high confidence and lost at the next
request. Persistence measures that on the training sessions. Pure: arrays in, an artifact out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from classifiers.artifact import Artifact, Model, load_model, seal
from classifiers.evaluate import enforce_requirements
from classifiers.kernels import Scorer

MIN_EVENTS = 3  # the proxy's default min_events: states before it are never given a class
DIGITS = 4


def given_classes(model: Model, X: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """The class ``model`` gives each state of ``X`` ``(n, d)`` (transformed features) on its
    own ``(n,)``: radius and requirements applied, no hysteresis, -1 for undetermined."""
    rows = np.ascontiguousarray(X, dtype=np.float64)
    labels, _ = Scorer(model).score_batch(rows, use_radius=True)
    out, _ = enforce_requirements(model, rows, np.asarray(labels, dtype=np.int64))
    return out


def persistence(model: Model, X: npt.NDArray[np.float64], session: npt.NDArray[np.int64],
                *, min_events: int = MIN_EVENTS) -> list[float | None]:
    """Per class ``(k,)``: of the states given that class (radius and requirements applied,
    no hysteresis) that have a next state in the same session, the share whose next state has
    the same class; ``None`` for a class no such state was given.

    ``X`` ``(n, d)`` are the session states after every request (transformed features), each
    session's rows consecutive and in time order; ``session`` ``(n,)`` their session ids. States
    before a session's ``min_events``-th request are skipped, as the proxy skips them."""
    sid = np.asarray(session)
    labels = given_classes(model, X)
    start = np.r_[True, sid[1:] != sid[:-1]]
    first = np.flatnonzero(start)
    position = np.arange(len(sid)) - first[np.cumsum(start) - 1]  # 0 = a session's first row
    has_next = np.r_[sid[1:] == sid[:-1], False]
    here = np.flatnonzero(has_next & (position >= min_events - 1))
    given, then = labels[here], labels[here + 1]
    out: list[float | None] = []
    for c in range(model.k):
        mine = given == c
        out.append(round(float((then[mine] == c).mean()), DIGITS) if mine.any() else None)
    return out


def with_persistence(artifact: Artifact, values: list[float | None]) -> Artifact:
    """``artifact`` with each class card's ``persistence`` set from ``values`` ``(k,)``."""
    return artifact.model_copy(update={"classes": [
        c.model_copy(update={"persistence": p})
        for c, p in zip(artifact.classes, values, strict=True)]})


def measured(data: bytes, X: npt.NDArray[np.float64], session: npt.NDArray[np.int64],
             *, min_events: int = MIN_EVENTS) -> bytes:
    """The sealed artifact ``data`` again, each class's persistence measured on the training
    states ``X`` ``(n, d)`` of sessions ``session`` ``(n,)`` (see ``persistence``)."""
    model = load_model(data)
    values = persistence(model, X, session, min_events=min_events)
    return seal(with_persistence(model.artifact, values).model_dump(mode="json"))
