"""What each process of a multi-process run runs, started by torchrun (``training.distributed``).

torchrun --standalone --nproc-per-node=N -m archcompare.training.worker --run-dir <planned run>
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from ..interrupts import INTERRUPTED_EXIT_CODE
from .distributed import Ranks


# @record writes an exception that ends this process to the error file torchrun names for it, so that
# the launcher can say what failed (training.distributed) instead of only an exit code.
@record
def main(argv: list[str] | None = None) -> None:
    """One process of a run: join the group, train this rank's part, leave the group."""
    from ..config import RunConfig
    from .loop import train_here

    parser = argparse.ArgumentParser(description="one process of a run started by torchrun")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--payload", help="(from train()) the config and train()'s options, as JSON")
    source.add_argument("--run-dir", type=Path, help="a planned run directory (its params.yaml), e.g. under srun")
    args = parser.parse_args(argv)
    if args.payload:
        payload = json.loads(args.payload)
        config, options = RunConfig.from_dict(payload["config"]), payload["options"]
    else:
        import yaml

        parameters = yaml.safe_load((args.run_dir / "params.yaml").read_text())
        config = RunConfig.from_parameters(parameters)
        options = {  # per-epoch checkpoints: as the environment says (train_here)
            "resume": True,
            "progress": "lines",
            "trained_by": "torchrun (no notebook)",
            "step_mode": parameters.get("step_mode", "auto"),
            "device_shared_by": 1,
        }
    # torchrun's environment; GROUP_WORLD_SIZE counts its node agents (--nnodes), one per machine.
    ranks = Ranks(
        int(os.environ["RANK"]),
        int(os.environ["WORLD_SIZE"]),
        int(os.environ["LOCAL_RANK"]),
        nodes=int(os.environ.get("GROUP_WORLD_SIZE", "1")),
    )
    cuda = config.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        log = print if ranks.main else (lambda message: None)
        train_here(config, ranks=ranks, log=log, **options)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED_EXIT_CODE)
