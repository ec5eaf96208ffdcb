"""The report's tables, as pandas DataFrames: one module per concern, formatting what :mod:`..analysis` computed.

comparison (headline, each architecture against the baseline), cardinality, ensembles, consistency,
setup (runs, protocol, provenance).
"""

from .cardinality import cardinality_table
from .comparison import comparisons_table, headline_table
from .consistency import consistency_table
from .ensembles import ensemble_table, equal_cost_table, equal_model_count_table
from .setup import protocol_table, provenance_table, runs_table, trained_by

__all__ = [
    "cardinality_table",
    "comparisons_table",
    "consistency_table",
    "ensemble_table",
    "equal_cost_table",
    "equal_model_count_table",
    "headline_table",
    "protocol_table",
    "provenance_table",
    "runs_table",
    "trained_by",
]
