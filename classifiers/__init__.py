"""classifiers: the model artifact, the Numba scoring kernels and (imported on demand) the
offline fitting. Importing this package compiles nothing and never loads scikit-learn; the fitting
modules (``classifiers.fit``, ``classifiers.naming``, ``classifiers.evaluate``) are imported by the
``fit``/``evaluate`` commands only."""

from __future__ import annotations

from classifiers.artifact import UNDETERMINED, Model, load_model, seal
from classifiers.errors import ArtifactError, ClassifierError, FitWarning, NotFittedError
from classifiers.kernels import Scorer, warm

__all__ = [
    "UNDETERMINED",
    "ArtifactError",
    "ClassifierError",
    "FitWarning",
    "Model",
    "NotFittedError",
    "Scorer",
    "load_model",
    "seal",
    "warm",
]
