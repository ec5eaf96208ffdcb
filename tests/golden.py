"""The golden run: tiny deterministic CPU trainings whose every number is committed.

What a run computes is versioned by ``archcompare.provenance.TRAINING_CODE_VERSION``, not by the
source text, so a refactor keeps every published run current. This file is what makes that safe:
``tests/test_golden.py`` trains these configurations again and compares the per-epoch history and a
hash of the final weights with ``tests/golden/training.json``, bit for bit. A change that alters the
computation fails it until the version is raised and the file rewritten:

    .venv/bin/python tests/golden.py --write      (or: make golden)

The runs execute in a child process whose numerics are pinned (one thread, no vectorised ATen
kernels, oneDNN limited to SSE4.1, MKL in its compatible mode), so that the same torch build gives
the same bits on any x86 CPU: these small networks are chaotic enough that a thread count or an
instruction set changes the second epoch's loss in the third digit.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN_FILE = HERE / "golden" / "training.json"
PINNED_NUMERICS = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "ATEN_CPU_CAPABILITY": "default",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
}
HISTORY_KEYS = ("lr", "train_loss", "train_ce", "train_acc", "test_loss", "test_acc")

# Between them, the two runs go through every choice a profile can make that changes the numbers:
# both augmentation recipes, SGD with Nesterov and AdamW, one-cycle and cosine with warm-up, label
# smoothing, a last partial batch, stratified subsets and the replaced stem's initialisation.
COMMON = dict(stem="cifar", momentum=0.9, precision="fp32", channels_last=False, compile=False, seed=0)
# Every setting is spelled out, so that a change of RunConfig's defaults cannot change the golden run.
CONFIGS = {
    "standard-sgd-onecycle": dict(
        COMMON,
        arch="resnet18",
        recipe="standard",
        epochs=2,
        batch_size=8,
        optimizer="sgd",
        lr=0.01,
        nesterov=True,
        weight_decay=5e-4,
        schedule="onecycle",
        warmup_epochs=0.0,
        label_smoothing=0.1,
        train_per_class=6,
        test_per_class=3,
    ),
    "blog-adamw-cosine": dict(
        COMMON,
        arch="resnet18",
        recipe="blog",
        epochs=2,
        batch_size=10,
        optimizer="adamw",
        lr=0.001,
        nesterov=False,
        weight_decay=0.01,
        schedule="cosine",
        warmup_epochs=1.0,
        label_smoothing=0.0,
        train_per_class=0,
        test_per_class=0,
    ),
}


def golden_results() -> dict:
    """Train each configuration on generated images; its history and final weights, as committed."""
    import torch
    import torchvision

    sys.path.insert(0, str(HERE))
    from conftest import make_imagefolder

    from archcompare.config import RunConfig
    from archcompare.training import train

    torch.set_num_threads(1)
    results = {"torch": torch.__version__, "torchvision": torchvision.__version__, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = make_imagefolder(root / "images", train_per_class=8, test_per_class=4, size=(8, 8), seed=0)
        for name, values in CONFIGS.items():
            config = RunConfig(
                **{
                    "dataset": f"imagefolder:{folder}",
                    "data_dir": str(root / "data"),
                    "device": "cpu",
                    "deterministic": True,
                    "output_dir": str(root / name),
                    **values,
                }
            )
            train(config, progress="none", log=lambda message: None)
            with open(root / name / "history.csv") as f:
                history = [{key: row[key] for key in HISTORY_KEYS} for row in csv.DictReader(f)]
            state = torch.load(root / name / "checkpoint.pt", map_location="cpu", weights_only=True)["model"]
            digest = hashlib.sha256()
            for key, tensor in sorted(state.items()):
                digest.update(key.encode())
                digest.update(tensor.contiguous().numpy().tobytes())
            results["runs"][name] = {"history": history, "final_weights_sha256": digest.hexdigest()}
    return results


def run_pinned() -> dict:
    """:func:`golden_results` in a child process with pinned numerics (they must be set before torch loads)."""
    done = subprocess.run(
        [sys.executable, __file__, "--print"],
        capture_output=True,
        text=True,
        env={**os.environ, **PINNED_NUMERICS},
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the golden run failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN_FILE.relative_to(HERE.parent)}")
    parser.add_argument("--print", action="store_true", help="(internal) print this process's results as JSON")
    args = parser.parse_args()
    if args.print:
        print(json.dumps(golden_results()))
        return
    from archcompare.provenance import TRAINING_CODE_VERSION

    results = {"training_code_version": TRAINING_CODE_VERSION, **run_pinned()}
    if args.write:
        GOLDEN_FILE.parent.mkdir(exist_ok=True)
        GOLDEN_FILE.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {GOLDEN_FILE} for training code version {TRAINING_CODE_VERSION}")
    else:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
