"""Exceptions raised by assay.

Every error assay raises on purpose derives from :class:`AssayError`, so callers can catch
everything from this library in one place. Messages say what was wrong, what was seen and how
to fix it.
"""

from __future__ import annotations

__all__ = [
    "AssayError",
    "AssayWarning",
    "InvalidInputError",
    "MissingDependencyError",
    "ModelError",
    "NotFittedError",
    "UnknownOptionError",
]


class AssayError(Exception):
    """Root of every exception raised by assay."""


class InvalidInputError(AssayError, ValueError):
    """The data or arguments passed in cannot be used as they are.

    Raised for NaN/inf where unsupported, empty data, wrong shapes, unknown or missing columns,
    non-numeric columns without an encoding and arguments of the wrong type or value.
    """


class UnknownOptionError(InvalidInputError, TypeError):
    """A keyword option the called method does not take (a TypeError, as in Python itself)."""


class NotFittedError(AssayError, ValueError):
    """A model or estimator was used before it was fitted."""


class ModelError(AssayError, RuntimeError):
    """A model could not be wrapped, called, or returned output of an unexpected form."""


class MissingDependencyError(AssayError, ImportError):
    """An optional dependency is needed for this feature but is not installed."""


class AssayWarning(UserWarning):
    """A result is usable but something about the request deserves attention (e.g. cost)."""
