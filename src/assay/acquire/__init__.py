"""What to measure next: the value of acquiring a missing feature.

>>> from assay.acquire import value_of_information  # doctest: +SKIP
"""

from assay.acquire._result import ValueOfInformation
from assay.acquire._voi import value_of_information
from assay.plot._acquire import plot_value_of_information  # drawn in assay.plot

__all__ = ["ValueOfInformation", "plot_value_of_information", "value_of_information"]
