"""The comparison report: every table, figure and sentence the compare notebook shows.

The notebook is a thin sequence of calls into this package, so its numbers and its text can be
tested. Everything comes from the runs' own files (``summary.json``, ``history.csv``,
``predictions.npz``, the executed ``train.ipynb``'s papermill metadata) and from the profile's
``plan.json``; a directory's name is used only to say which directory is meant, never as data.

runs (loading) -> statistics -> compare (comparisons) -> tables, figures, text.
"""

from .compare import *  # noqa: F403
from .figures import *  # noqa: F403
from .format import *  # noqa: F403
from .runs import *  # noqa: F403
from .tables import *  # noqa: F403
from .text import *  # noqa: F403
