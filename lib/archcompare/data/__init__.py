"""Data: ``spec`` (what a dataset spec names), ``listing`` (a dataset's files, counted and checked
without decoding; both torch-free), ``sources`` (decoded datasets as uint8 tensors, cached),
``stream`` (image folders read from disk as training goes) and ``augment`` (batched augmentation on
the device; the imagenet recipe's per-image crops).

Nothing is imported here, so that ``data.spec`` and ``data.listing`` stay importable without torch.
"""
