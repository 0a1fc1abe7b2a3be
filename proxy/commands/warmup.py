"""Compile and cache every Numba kernel signature ahead of time
(``python -m proxy.commands.warmup``).

The Dockerfile runs this at build time so a container's first request finds the kernels in
``NUMBA_CACHE_DIR``; the proxy warms them again at startup (a cache hit, milliseconds).
"""

from __future__ import annotations

import time

from classifiers.artifact import load_model
from classifiers.kernels import Scorer
from proxy.models import bundled_model_bytes


def main() -> int:
    t0 = time.perf_counter()
    model = load_model(bundled_model_bytes())
    Scorer(model).warm()
    print(f"kernels warm for model {model.version} in {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
