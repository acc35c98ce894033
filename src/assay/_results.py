"""What every result shares: the status vocabulary and one JSON converter.

Result objects are dataclasses with ``to_dict()`` (JSON-ready: ``kind``, ``schema_version`` and
their fields) and ``from_dict()`` (:class:`FromDict`), so ``from_dict(to_dict())`` rebuilds
them. Statuses are
``"ok"``, ``"warning"`` and ``"alert"``; a report or section takes the worst of its parts.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "RESULT_KINDS",
    "STATUSES",
    "STATUS_RANK",
    "FromDict",
    "ResultDisplay",
    "check_kind",
    "dataclass_from_dict",
    "result_from_dict",
    "to_jsonable",
    "worst_status",
]

STATUSES = ("ok", "warning", "alert")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}


def worst_status(statuses: Iterable[str]) -> str:
    """The most severe of ``statuses`` ("ok" for none).

    Examples
    --------
    >>> worst_status(["ok", "alert", "warning"])
    'alert'
    >>> worst_status([])
    'ok'
    """
    return max(statuses, key=STATUS_RANK.__getitem__, default="ok")


def to_jsonable(obj: Any, *, strict: bool = False) -> Any:
    """``obj`` as plain JSON values: numpy arrays and scalars, tuples, nested results.

    Non-finite floats become None (JSON has no NaN). Other objects become their text, or, with
    ``strict``, raise ``TypeError``.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.arange(2), "b": (np.float64(1.5), float("nan"))})
    {'a': [0, 1], 'b': [1.5, None]}
    """
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), strict=strict)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), strict=strict)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if strict:
        msg = f"cannot save a value of type {type(obj).__name__} ({obj!r}) as JSON"
        raise TypeError(msg)
    return str(obj)


class ResultDisplay:
    """Notebook display for any result with ``to_dict()``: its verdict and its scalar fields.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Toy(ResultDisplay):
    ...     status: str = "ok"
    ...     auc: float = 0.91
    ...     def to_dict(self):
    ...         return {"kind": "Toy", "status": self.status, "auc": self.auc}
    >>> "<table>" in Toy()._repr_html_()
    True
    """

    def _repr_html_(self) -> str:
        import html

        from assay._display import html_table, status_badge

        d = self.to_dict()  # type: ignore[attr-defined]
        kind = html.escape(str(d.get("kind", type(self).__name__)))
        head = f"<p><strong>{kind}</strong>"
        status = getattr(self, "status", d.get("status"))
        if isinstance(status, str) and status in STATUS_RANK:
            head += " " + status_badge(status)
        verdict = getattr(self, "verdict", d.get("verdict"))
        if isinstance(verdict, str) and verdict:
            head += f": {html.escape(verdict)}"
        head += "</p>"
        rows = []
        for key, value in d.items():
            if key in ("kind", "schema_version", "status", "verdict"):
                continue
            if value is None or isinstance(value, (bool, int, float, str)):
                rows.append([key, value if not isinstance(value, str) else value[:200]])
            elif isinstance(value, (list, dict)):
                rows.append([key, f"{type(value).__name__} of {len(value)}"])
        return head + (html_table(["field", "value"], rows[:30]) if rows else "")


#: Every result class that can be rebuilt from its ``to_dict()``, by kind (its class name).
RESULT_KINDS: dict[str, type] = {}


class FromDict:
    """``from_dict(to_dict())`` for a dataclass result: each field read back by its type.

    Arrays come back as numpy arrays (None, the JSON stand-in for NaN, as NaN), tuples as
    tuples, nested results through their own ``from_dict``; keys that are not fields (the
    derived ``status``, ``verdict``...) are skipped, they are recomputed. A subclass whose
    ``to_dict`` writes a field under another key names it in ``_DICT_KEYS`` (field -> key).
    ``SCHEMA_VERSION`` is the kind's version: ``to_dict`` writes it, ``from_dict`` refuses a
    newer one.
    Subclasses are registered in :data:`RESULT_KINDS`, so :func:`result_from_dict` can rebuild
    any of them from its ``kind``.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import numpy as np
    >>> @dataclass(frozen=True)
    ... class Toy(FromDict):
    ...     values: np.ndarray
    ...     def to_dict(self):
    ...         return {"kind": "Toy", "schema_version": 1, "values": to_jsonable(self.values)}
    >>> Toy.from_dict(Toy(np.array([1.0, np.nan])).to_dict()).values
    array([ 1., nan])
    """

    SCHEMA_VERSION: ClassVar[int] = 1
    _DICT_KEYS: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            RESULT_KINDS[cls.__name__] = cls

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """Rebuild the result from :meth:`to_dict` output."""
        return dataclass_from_dict(cls, d)


def result_from_dict(d: Mapping[str, Any]) -> Any:
    """Rebuild any registered result from its ``to_dict()`` output, chosen by ``d["kind"]``.

    Examples
    --------
    >>> from assay.probe import CheckResult
    >>> result_from_dict({"kind": "Nope"})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    assay.errors.InvalidInputError: no result kind 'Nope' ...
    """
    from assay.errors import InvalidInputError

    kind = d.get("kind") if isinstance(d, Mapping) else None
    if kind not in RESULT_KINDS:
        msg = (
            f"no result kind {kind!r} is known; pass the output of a result's to_dict() "
            f"(kinds: {sorted(RESULT_KINDS)})."
        )
        raise InvalidInputError(msg)
    return RESULT_KINDS[kind].from_dict(d)


def _array(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == object:  # None stands for NaN in JSON
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    return arr


def _decode(value: Any, hint: Any) -> Any:
    """``value`` (JSON) as the type ``hint`` names."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return _decode(value, rest[0]) if len(rest) == 1 else _decode(value, Any)
    if hint is np.ndarray:
        return _array(value)
    if hint is float:
        return float("nan") if value is None else float(value)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(v, args[0]) for v in value)
        if args and len(args) == len(value):
            return tuple(_decode(v, a) for v, a in zip(value, args, strict=True))
        return tuple(_decode(v, Any) for v in value)
    if origin is dict and len(args) == 2 and isinstance(value, Mapping):
        return {k: _decode(v, args[1]) for k, v in value.items()}
    if origin is list and isinstance(value, list):
        return [_decode(v, args[0] if args else Any) for v in value]
    if isinstance(hint, type) and hasattr(hint, "from_dict") and isinstance(value, Mapping):
        return hint.from_dict(value)
    if isinstance(value, Mapping) and value.get("kind") in RESULT_KINDS:
        try:
            return RESULT_KINDS[value["kind"]].from_dict(value)
        except (TypeError, ValueError, KeyError, LookupError):  # a plain dict with a "kind" key
            return value
    return value


def check_kind(cls: type, d: Any, *, version: int | None = None) -> None:
    """Raise InvalidInputError unless ``d`` is a dict of kind ``cls`` at a readable version."""
    from assay.errors import InvalidInputError

    if not isinstance(d, Mapping):
        msg = f"{cls.__name__}.from_dict expects a dict from to_dict(); got {type(d).__name__}."
        raise InvalidInputError(msg)
    names = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    kind = d.get("kind")
    if "kind" not in names and kind is not None and kind != cls.__name__:
        msg = f"{cls.__name__}.from_dict got a dict of kind {kind!r}; pass {cls.__name__} data."
        raise InvalidInputError(msg)
    current = getattr(cls, "SCHEMA_VERSION", 1) if version is None else version
    seen = d.get("schema_version", current)
    if isinstance(seen, int) and seen > current:
        msg = (
            f"{cls.__name__} data has schema_version {seen}, newer than this assay reads "
            f"({current}); upgrade assay."
        )
        raise InvalidInputError(msg)


def dataclass_from_dict(cls: type, d: Mapping[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``d``, reading each field by its type hint."""
    from assay.errors import InvalidInputError

    check_kind(cls, d)
    hints = typing.get_type_hints(cls)
    keys = getattr(cls, "_DICT_KEYS", {})
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        key = keys.get(f.name, f.name)
        if key in d:
            kwargs[f.name] = _decode(d[key], hints.get(f.name, Any))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            msg = (
                f"{cls.__name__}.from_dict: the dict has no {key!r}; pass the unchanged output "
                "of to_dict()."
            )
            raise InvalidInputError(msg)
    return cls(**kwargs)
