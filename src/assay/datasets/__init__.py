"""Bundled demo data with planted, documented effects.

:func:`load_clinical` generates a synthetic clinical cohort whose generating process is
recorded in the returned bundle's ``truth``, so that explanations and audits can be checked
against the answer.
"""

from assay.datasets._clinical import ClinicalData, load_clinical

__all__ = ["ClinicalData", "load_clinical"]
