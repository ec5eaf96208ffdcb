"""Data: ``spec`` (what a dataset spec names; torch-free), ``sources`` (decoded datasets as uint8
tensors, cached) and ``augment`` (batched augmentation on the device).

Nothing is imported here, so that ``data.spec`` stays importable without torch.
"""
