"""The report's numbers: typed results, computed once, that the wording, tables and figures only format.

One module per concern, each importing only those above it:

- statistics: tests, intervals and power (McNemar, Student-t, Welch, Wilson, Holm, seeds needed);
  calibration: the ensemble mean, NLL, ECE, reliability bins, temperature scaling
- reference: the blog post's figures and recipe, and the levels every analysis uses; recipe: the runs'
  settings beside the blog's
- timing: runs timed alike, slowdowns, wall times; bench: the blog's conditions as `make bench` timed them
- pairs: two architectures paired by seed, and the verdict (from the paired interval alone); per_class:
  per-class differences (Holm over the classes), confusions
- headline: each architecture's accuracy and cost; cardinality: the sweep at equal complexity
- ensembles: seed ensembles and two models each at equal model count; penalty: what the copy of CIFAR-10 costs
- consistency: error consistency (kappa of per-image correctness) between architectures and between seeds
"""
