"""A grammar of plausible prompt formats (after Sclar et al. 2023, "Quantifying Language
Models' Sensitivity to Spurious Features in Prompt Design").

An example is an ordered mapping of descriptor -> value, e.g.
``{"Question": "...", "Options": ["red", "blue"], "Answer": ""}``. A :class:`Format` fixes
every superficial choice a prompt writer makes and none of the content:

- ``casing`` of descriptors (as written, lower, upper, title);
- ``separator`` between descriptor and value (``":"``, ``" -"``, ...) and the ``space`` after it;
- ``field_join`` between fields (newline, blank line, ``" || "``, ...);
- for list values (answer options): the ``enumeration`` (A, a, 1, i), the item ``wrapper``
  (``"{}."``, ``"({})"``, ...) and the ``item_join`` between options.

A field with an empty value (the trailing ``"Answer"``) is rendered as descriptor and separator
only, so the prompt ends where the model is to answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from assay.errors import InvalidInputError

__all__ = ["Format", "FormatGrammar"]

_CASINGS = {
    "as_is": lambda s: s,
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
}


def _roman(i: int) -> str:
    out = ""
    for value, sym in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while i >= value:
            out, i = out + sym, i - value
    return out


_ENUMERATIONS = {
    "A": lambda i: chr(ord("A") + i),
    "a": lambda i: chr(ord("a") + i),
    "1": lambda i: str(i + 1),
    "i": lambda i: _roman(i + 1),
    "I": lambda i: _roman(i + 1).upper(),
}


@dataclass(frozen=True)
class Format:
    """One point of the grammar; :meth:`render` turns an example into a prompt.

    Examples
    --------
    >>> f = Format(casing="upper", separator=" -", space=" ", field_join="\\n")
    >>> print(f.render({"Question": "2+2?", "Options": ["3", "4"], "Answer": ""}))
    QUESTION - 2+2?
    OPTIONS - A. 3
    B. 4
    ANSWER -
    """

    casing: str = "as_is"
    separator: str = ":"
    space: str = " "
    field_join: str = "\n"
    enumeration: str = "A"
    wrapper: str = "{}."
    item_join: str = "\n"

    def __post_init__(self) -> None:
        if self.casing not in _CASINGS:
            msg = f"casing must be one of {sorted(_CASINGS)}; got {self.casing!r}."
            raise InvalidInputError(msg)
        if self.enumeration not in _ENUMERATIONS:
            msg = f"enumeration must be one of {sorted(_ENUMERATIONS)}; got {self.enumeration!r}."
            raise InvalidInputError(msg)
        if "{}" not in self.wrapper:
            msg = f"wrapper must contain '{{}}' where the item label goes; got {self.wrapper!r}."
            raise InvalidInputError(msg)

    def _value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        enum = _ENUMERATIONS[self.enumeration]
        return self.item_join.join(
            f"{self.wrapper.format(enum(i))} {item}" for i, item in enumerate(value)
        )

    def render(self, example: Mapping[str, Any]) -> str:
        """The prompt for one example."""
        case = _CASINGS[self.casing]
        parts = []
        for desc, value in example.items():
            text = self._value(value)
            head = case(str(desc)) + self.separator
            parts.append(head + self.space + text if text else head)
        return self.field_join.join(parts)

    def describe(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class FormatGrammar:
    """The choices along each axis; formats are points of their product.

    Examples
    --------
    >>> g = FormatGrammar(separators=(":", " -"), spaces=(" ",), casings=("as_is",),
    ...                   field_joins=("\\n",), enumerations=("A",), wrappers=("{}.",),
    ...                   item_joins=("\\n",))
    >>> g.size, [f.separator for f in g.sample(2, seed=0)]
    (2, [':', ' -'])
    """

    casings: tuple[str, ...] = ("as_is", "lower", "upper", "title")
    separators: tuple[str, ...] = (":", " :", " -", " --", " =", " ||", ".", "")
    spaces: tuple[str, ...] = (" ", "  ", "\n", "\t")
    field_joins: tuple[str, ...] = ("\n", "\n\n", " ", " || ", "; ")
    enumerations: tuple[str, ...] = ("A", "a", "1", "i", "I")
    wrappers: tuple[str, ...] = ("{}.", "({})", "[{}]", "{})", "{}:", "<{}>")
    item_joins: tuple[str, ...] = ("\n", " ", "; ", " | ")

    def _axes(self) -> list[tuple[str, tuple[str, ...]]]:
        return [
            ("casing", self.casings),
            ("separator", self.separators),
            ("space", self.spaces),
            ("field_join", self.field_joins),
            ("enumeration", self.enumerations),
            ("wrapper", self.wrappers),
            ("item_join", self.item_joins),
        ]

    @property
    def size(self) -> int:
        return int(np.prod([len(v) for _, v in self._axes()], dtype=np.int64))

    def sample(self, n: int, *, seed: int | None = None) -> list[Format]:
        """``n`` distinct formats drawn uniformly from the grammar (all of them if fewer)."""
        axes = self._axes()
        for name, values in axes:
            if len(values) == 0:
                msg = f"The grammar has no choices for {name}; give at least one."
                raise InvalidInputError(msg)
        rng = np.random.default_rng(seed)
        shape = tuple(len(v) for _, v in axes)
        n = min(int(n), self.size)
        flat = rng.choice(self.size, size=n, replace=False) if self.size > n else rng.permutation(n)
        out = []
        for f in flat:
            pos = np.unravel_index(int(f), shape)
            out.append(
                Format(**{name: values[p] for (name, values), p in zip(axes, pos, strict=True)})
            )
        return out


def check_examples(examples: Any) -> list[dict[str, Any]]:
    """Examples as a list of ordered dicts of descriptor -> str or list of str."""
    if isinstance(examples, (str, Mapping)) or not isinstance(examples, Sequence):
        msg = (
            "examples must be a list of mappings such as {'Question': ..., 'Answer': ''}; got "
            f"{type(examples).__name__}."
        )
        raise InvalidInputError(msg)
    out = []
    for i, ex in enumerate(examples):
        if not isinstance(ex, Mapping) or not ex:
            msg = (
                f"example {i} is {type(ex).__name__}, not a non-empty mapping of descriptor -> "
                "value; formats vary how fields are written, so examples need fields."
            )
            raise InvalidInputError(msg)
        for k, v in ex.items():
            if not isinstance(v, str) and not (
                isinstance(v, Sequence) and all(isinstance(x, str) for x in v)
            ):
                msg = f"example {i} field {k!r} must be a string or a list of strings."
                raise InvalidInputError(msg)
        out.append(dict(ex))
    if not out:
        msg = "examples is empty; pass at least one example."
        raise InvalidInputError(msg)
    return out
