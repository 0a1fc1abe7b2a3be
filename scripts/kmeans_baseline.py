"""Benchmark: `intentgate fit` with defaults against plain k-means on the same sessions.

    .venv/bin/python scripts/kmeans_baseline.py EVENTS.jsonl [MORE.jsonl ...] [-- FIT ARGS]

Both are scored on every session's state before its first purchase or checkout (as
`intentgate evaluate` does). Plain k-means: standardised raw signals (counts, minutes, seconds),
k in 2..8 by silhouette on a seeded sample of 5,000 sessions, k-means++ with 10 starts. Prints the
purchase lift of the top and bottom class of each (the fitted model's named classes, its
requirements enforced; sessions it leaves undetermined are reported apart), and the rule-based
archetype classes the fit added.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from classifiers.archetypes import ARCHETYPE_RADIUS
from classifiers.artifact import load_model
from classifiers.evaluate import raw_signals
from proxy.commands.cli import main as cli
from proxy.commands.offline import _extractor, _read_events, _Skipped, evaluate_sessions
from signals.replay import group, replay


def _lifts(labels: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
    """(lift, share) per class, best lift first."""
    base = y.mean()
    return sorted(((y[labels == c].mean() / base, float((labels == c).mean()))
                   for c in np.unique(labels) if c >= 0), reverse=True)


def main(paths: list[str], fit_args: list[str]) -> None:
    sessions = group(_read_events(paths, _Skipped()))
    ex = _extractor()
    rep = replay(sessions, ex, before_outcome=True)
    y = rep.purchased
    raw = raw_signals(type("M", (), {"transforms": ex.transforms})(), rep.X)  # type: ignore[arg-type]
    keep = raw.std(axis=0) > 0
    Z = (raw[:, keep] - raw[:, keep].mean(axis=0)) / raw[:, keep].std(axis=0)
    rng = np.random.default_rng(0)
    sample = rng.choice(len(Z), size=min(len(Z), 5000), replace=False)
    best = None
    for k in range(2, 9):
        km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(Z)
        s = silhouette_score(Z[sample], km.labels_[sample], random_state=0)
        if best is None or s > best[0]:
            best = (s, k, km.labels_)
    assert best is not None
    plain = _lifts(best[2], y)
    print(f"{len(y)} sessions, {int(y.sum())} with a purchase")
    print(f"plain k-means (k={best[1]} by silhouette): top {plain[0][0]:.2f} "
          f"({plain[0][1]:.1%} of sessions), bottom {plain[-1][0]:.2f} ({plain[-1][1]:.1%})")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        cli(["fit", *paths, "--out", str(out), *fit_args])
        model = load_model(out.read_bytes())
    _, ev, _ = evaluate_sessions(model, sessions)
    shares = {c.slug: c.share for c in ev.classes}
    named = ev.named_lifts()
    und = ev.classes[-1]
    arch = [c.slug for c in model.artifact.classes if c.radius == ARCHETYPE_RADIUS]
    k = f"k={model.k - len(arch)}" + (f" + archetypes {', '.join(arch)}" if arch else "")
    print(f"intentgate fit defaults ({k}): top {named[0][0]} {named[0][1]:.2f} "
          f"({shares[named[0][0]]:.1%}), bottom {named[-1][0]} {named[-1][1]:.2f} "
          f"({shares[named[-1][0]]:.1%}); undetermined {und.share:.1%} of sessions, lift "
          f"{und.lift:.2f}; requirement violations {ev.violations}")


if __name__ == "__main__":
    args = sys.argv[1:]
    cut = args.index("--") if "--" in args else len(args)
    main(args[:cut], args[cut + 1:])
