"""Failure slices: subgroups where a model that is good on average does badly.

:func:`find_slices` searches conjunctions of readable predicates on one half of the data and
confirms each candidate on the other half, in both directions (cross-fitting: every row
confirms), with a weighted Benjamini–Hochberg correction over every slice tested. The report
says what the data could have shown (``detectable``) and lists strong but unconfirmed
candidates apart from the confirmed slices.

>>> from assay.slices import find_slices  # doctest: +SKIP
"""

from assay.plot._slices import plot_slices  # drawn in assay.plot, re-exported here
from assay.slices._find import find_slices
from assay.slices._result import Slice, SliceReport

__all__ = ["Slice", "SliceReport", "find_slices", "plot_slices"]
