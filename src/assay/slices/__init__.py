"""Failure slices: subgroups where a model that is good on average does badly.

:func:`find_slices` searches conjunctions of readable predicates on one part of the data and
confirms each candidate on the other part, with a Benjamini–Hochberg correction over every
slice tested.

>>> from assay.slices import find_slices  # doctest: +SKIP
"""

from assay.slices._find import find_slices
from assay.slices._plot import plot_slices
from assay.slices._result import Slice, SliceReport

__all__ = ["Slice", "SliceReport", "find_slices", "plot_slices"]
