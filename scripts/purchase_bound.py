"""Benchmark: how well can any grouping of these signals separate buyers on a log?

    .venv/bin/python scripts/purchase_bound.py EVENTS.jsonl [MORE.jsonl ...]

A ceiling for `intentgate evaluate`'s top and bottom lift, not a model: on every session's state
before its first purchase or checkout (as `evaluate` scores it), a decision tree is fitted on a
seeded half of the sessions *with their purchase labels* (leaves of at least 1, 2 and 5 % of
the sessions, depth 6), and the lift of its best and worst leaf is measured on the other half.
An unsupervised model, fitted without the labels or on other stores, should not expect to do
better. Also prints the largest groups of sessions with identical feature vectors, which no
model can split.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.tree import DecisionTreeClassifier

from proxy.commands.offline import _extractor, _read_events, _Skipped
from signals.replay import group, replay


def main(paths: list[str]) -> None:
    sessions = group(_read_events(paths, _Skipped()))
    ex = _extractor()
    rep = replay(sessions, ex, before_outcome=True)
    X, y = rep.X, rep.purchased
    base = y.mean()
    print(f"{len(y)} sessions with a state before any purchase ({rep.skipped_empty} start with "
          f"it and are left out, as evaluate does), {int(y.sum())} with a purchase "
          f"(base rate {base:.2%})")
    _, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    for b in np.argsort(-counts, kind="stable")[:3]:
        same = inverse == b
        print(f"  identical vectors: {counts[b]} sessions ({counts[b] / len(y):.1%}), lift "
              f"{y[same].mean() / base:.2f}")
    order = np.random.default_rng(0).permutation(len(y))
    fit, test = order[: len(y) // 2], order[len(y) // 2:]
    for leaf in (0.01, 0.02, 0.05):
        tree = DecisionTreeClassifier(min_samples_leaf=max(1, int(leaf * len(fit))),
                                      max_depth=6, random_state=0).fit(X[fit], y[fit])
        leaves = tree.apply(X[test])
        lifts = sorted((y[test][leaves == v].mean() / y[test].mean(),
                        float((leaves == v).mean())) for v in np.unique(leaves))
        print(f"tree, leaves >= {leaf:.0%}: on the held-out half, bottom leaf lift "
              f"{lifts[0][0]:.2f} ({lifts[0][1]:.1%} of sessions), top {lifts[-1][0]:.2f} "
              f"({lifts[-1][1]:.1%}), {len(lifts)} leaves")


if __name__ == "__main__":
    main(sys.argv[1:])
