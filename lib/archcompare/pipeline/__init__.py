"""The steps ``make report`` drives, one room each: ``profiles`` (read and validate a profile),
``plan`` (what to train, keep, reuse or leave out), ``execute`` (train one planned run, in
``train.ipynb`` or without Jupyter) and ``render`` (``compare.ipynb`` to ``report.html``).
``notebooks`` holds what executing a notebook needs; ``locks`` keeps each run directory to one process at
a time (training it, removing its results, rendering from it).

Make decides *what* to build by file existence; ``plan`` decides *whether a file is still valid*,
by content rather than modification times (a fresh clone has arbitrary mtimes).
"""
