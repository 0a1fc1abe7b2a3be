"""Exceptions raised by ``classifiers``.

    ClassifierError
     ├── ArtifactError    a model artifact is malformed or inconsistent (the message names why)
     └── NotFittedError   a fitter was asked for results before ``fit`` (also an AttributeError,
                          as scikit-learn's is)

    FitWarning (UserWarning)  a fit finished but deserves a look; also recorded in the report

Bad arguments to the fitter are plain ``ValueError`` (the scikit-learn convention).
"""

from __future__ import annotations


class ClassifierError(Exception):
    """Base of every error this package raises on purpose."""


class ArtifactError(ClassifierError):
    """A model artifact was refused; the message names the field and the problem."""


class NotFittedError(ClassifierError, AttributeError):
    """``predict``/``to_artifact`` was called before ``fit``."""


class FitWarning(UserWarning):
    """Something about a fit deserves a look (best k at the edge of the range, an empty cluster,
    the quantile fallback). Every such warning is also written into the model's report."""
