"""Renamed keyword arguments: the old name keeps working for a while, with a warning.

The naming rules these renames follow are in ``docs/ARCHITECTURE.md`` ("Names").
"""

from __future__ import annotations

import warnings
from typing import Any

from assay.errors import InvalidInputError

__all__ = ["renamed"]


def renamed(
    old_value: Any, new_value: Any, *, old: str, new: str, default: Any, where: str
) -> Any:
    """The value of keyword ``new``, taken from the deprecated ``old`` when the caller used it.

    ``old_value`` is None when the caller did not pass ``old``. Passing both (``new`` away
    from its ``default``) is an error; passing ``old`` alone warns (DeprecationWarning,
    attributed to the caller's line) and returns its value.

    Examples
    --------
    >>> renamed(None, 0.9, old="confidence", new="ci_level", default=0.95, where="f")
    0.9
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     renamed(0.9, 0.95, old="confidence", new="ci_level", default=0.95, where="f")
    0.9
    >>> seen[0].category.__name__
    'DeprecationWarning'
    """
    if old_value is None:
        return new_value
    if new_value is not default and new_value != default:
        msg = (
            f"{where}: got both {new}={new_value!r} and its deprecated old name "
            f"{old}={old_value!r}; pass only {new}."
        )
        raise InvalidInputError(msg)
    warnings.warn(
        f"{where}: {old}= is deprecated and will be removed; use {new}= (same meaning).",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value
