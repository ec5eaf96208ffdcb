"""The report's words: each module formats what :mod:`..analysis` computed, and computes no statistics.

A sentence's strength follows a verdict field of an analysis result; no module here imports scipy,
fits, tests or computes an interval, a quantile or a seeds-needed number.

- overview: title, what the report covers, warnings; conclusions: accuracy, the verdict, the per-seed tests,
  power; blog: the runs against the blog post and its recipe
- timing: training time and the blog's timing claim; limitations; penalty: what the data copy costs
- cardinality, ensembles, calibration: their sections and figure captions; captions: the other figures'
- consistency: error consistency between architectures and between seeds, described without a verdict
- readme: the README's generated blocks
"""
