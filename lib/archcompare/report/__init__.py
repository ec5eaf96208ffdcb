"""The comparison report: every table, figure and sentence the compare notebook shows.

The notebook is a thin sequence of calls into this package, so its numbers and its text can be
tested. Everything comes from the runs' own files (``summary.json``, ``history.csv``,
``predictions.npz``, the executed ``train.ipynb``'s papermill metadata) and from the profile's
``plan.json``; a directory's name is used only to say which directory is meant, never as data.

runs (loading) -> statistics -> compare (comparisons) -> tables, figures, text; readme (README blocks).
"""

from ..errors import ReportError
from .compare import (
    BLOG_POST,
    Agreement,
    Significance,
    Trend,
    architecture_ensembles,
    bench_timings,
    cardinality_trend,
    compare_all,
    compare_pair,
    data_penalty,
    seed_ensembles,
)
from .figures import (
    plot_cardinality,
    plot_confusion_matrices,
    plot_headline,
    plot_history,
    plot_per_class_accuracy,
    plot_per_class_difference,
    plot_reliability,
    plot_training_curves,
)
from .format import Captions, markdown_list, styled
from .runs import IncompleteRun, RunResult, Runs, load_runs
from .tables import (
    cardinality_table,
    comparisons_table,
    ensemble_table,
    equal_cost_table,
    headline_table,
    protocol_table,
    provenance_table,
    runs_table,
)
from .text import (
    caption_cardinality,
    caption_confusion,
    caption_headline,
    caption_per_class_difference,
    caption_reliability,
    caption_training_curves,
    cardinality_markdown,
    conclusions,
    ensembles_markdown,
    limitations,
    overview_markdown,
    readme_headline,
    readme_timings,
    title_markdown,
    warnings_markdown,
)

__all__ = [
    "BLOG_POST",
    "Agreement",
    "Captions",
    "IncompleteRun",
    "ReportError",
    "RunResult",
    "Runs",
    "Significance",
    "Trend",
    "readme_timings",
    "plot_per_class_difference",
    "plot_headline",
    "equal_cost_table",
    "data_penalty",
    "caption_training_curves",
    "caption_reliability",
    "caption_per_class_difference",
    "caption_headline",
    "caption_confusion",
    "caption_cardinality",
    "bench_timings",
    "architecture_ensembles",
    "cardinality_markdown",
    "cardinality_table",
    "cardinality_trend",
    "compare_all",
    "compare_pair",
    "comparisons_table",
    "conclusions",
    "ensemble_table",
    "ensembles_markdown",
    "headline_table",
    "limitations",
    "load_runs",
    "markdown_list",
    "overview_markdown",
    "plot_cardinality",
    "plot_confusion_matrices",
    "plot_history",
    "plot_per_class_accuracy",
    "plot_reliability",
    "plot_training_curves",
    "protocol_table",
    "provenance_table",
    "readme_headline",
    "runs_table",
    "seed_ensembles",
    "styled",
    "title_markdown",
    "warnings_markdown",
]
