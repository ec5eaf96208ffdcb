"""``make bench``: the blog post's training loop against this package's, on the same machine.

Both loops train on the same generated 32x32 images (throughput does not depend on pixel values)
in one process. Measurements interleave the loops (blog, project at batch 32, project at the
default batch), repeat that several times after a warm-up, and report medians, so that a drift
in machine speed affects every loop alike. Each measurement runs for a fixed time
(``bench_steps.MEASURE``), not a fixed number of steps, so the bench takes about as long on any
machine: on a 2-core CPU about 4 minutes (README, *Speed*).

Step-mode rows (``bench_steps``): eager against captured steps, on a GPU. Streaming rows
(``bench_stream``): decoding alone, training alone and both, on generated JPEGs.

Writes ``outputs/bench/bench-<device>.json`` and ``bench-<device>.md`` (cpu or cuda): a GPU
machine's results sit beside the CPU's instead of replacing them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision.transforms as T
from torch.utils.data import DataLoader

from .bench_steps import (
    ARCHS,
    MEASURE,
    QUICK_IMAGE_SIZE,
    QUICK_MEASURE,
    Measure,
    bench_step_modes,
    images_per_second_for,
    rows_file,
    step_modes_table,
)
from .bench_stream import bench_streaming, streaming_table
from .config import RunConfig
from .data.sources import Dataset
from .files import write_json, write_text
from .models import build_model, count_macs
from .paths import BENCH_DIR, bench_stem
from .probe import BLOG_BATCH, NUM_CLASSES, TrainingSteps, images_per_second, synthetic_dataset
from .provenance import environment, now
from .training.device import (
    AUTOCAST_DTYPES,
    autocast,
    peak_memory_bytes,
    resolve_device,
    resolve_precision,
    synchronize,
)
from .training.evaluate import evaluate

GPU_BATCH = 512  # the full profile's batch: what a GPU trains at
CPU_BATCH = RunConfig().batch_size  # the CPU is fastest at 32-64
# Test images evaluated for the eval column: a CPU's 150 img/s would spend 13 s per architecture on 1,000.
EVAL_IMAGES = {"cpu": 256, "cuda": 1000}


class _BlogImages(torch.utils.data.Dataset):
    """Like torchvision's CIFAR10: a uint8 array, one PIL image per item, transforms per image."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        from PIL import Image

        self.images = [Image.fromarray(a) for a in images.permute(0, 2, 3, 1).numpy()]
        self.labels = labels.tolist()
        # The blog post's transforms, verbatim.
        self.transform = T.Compose(
            [
                T.RandomHorizontalFlip(),
                T.RandomRotation(10),
                T.ToTensor(),
                T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.labels[i]


class BlogLoop:
    """The blog's loop: DataLoader(batch 32, shuffle, 2 workers), fp32, contiguous, loss.item() each step."""

    def __init__(self, arch: str, dataset: Dataset, device: torch.device):
        torch.manual_seed(0)
        self.device = device
        self.model = build_model(arch, NUM_CLASSES).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.001, momentum=0.9)
        loader = DataLoader(
            _BlogImages(dataset.train_images, dataset.train_labels),
            batch_size=BLOG_BATCH,
            shuffle=True,
            num_workers=2,
            persistent_workers=True,
        )
        self.loader = loader
        self.batches = iter(loader)

    def step(self) -> None:
        try:
            inputs, labels = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            inputs, labels = next(self.batches)
        inputs, labels = inputs.to(self.device), labels.to(self.device)
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(inputs), labels)
        loss.backward()
        self.optimizer.step()
        loss.item()  # the tutorial's `running_loss += loss.item()`: a host sync every step


class ProjectLoop:
    """This package's training step over its epoch batching (``probe.TrainingSteps``), with its defaults."""

    def __init__(self, arch: str, dataset: Dataset, batch_size: int, device: torch.device, workdir: Path):
        config = RunConfig(
            arch=arch,
            batch_size=batch_size,
            device=device.type,
            train_per_class=0,
            test_per_class=0,
            output_dir=str(workdir),
        )
        self.step = TrainingSteps(config, dataset, step_mode="eager")
        self.run = self.step.run
        self.batch_size = batch_size


class BareModelLoop:
    """The same model, precision and layout on one fixed batch: no data path at all.

    The ceiling for any training loop around this model on this machine; the project loop's
    distance to it is what its data path and bookkeeping cost.
    """

    def __init__(self, project: ProjectLoop):
        run = project.run
        self.run = run
        self.inputs = torch.randn(project.batch_size, 3, 32, 32, device=run.device).contiguous(
            memory_format=run.memory_format
        )
        self.labels = torch.randint(0, NUM_CLASSES, (project.batch_size,), device=run.device)

    def step(self) -> None:
        with autocast(self.run.device, self.run.precision):
            loss = F.cross_entropy(self.run.model(self.inputs), self.labels)
        self.run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.run.optimizer.step()


def matmul_peak(device: torch.device, dtype: torch.dtype, log: Callable[[str], None], quick: bool = False) -> float:
    """Best FLOP/s of square matmuls in ``dtype``: the ceiling the training loop is compared with."""
    sizes = (256,) if quick else (4096, 8192) if device.type == "cuda" else (1024, 2048)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        repeats = 20 if device.type == "cuda" else 4

        def product(a=a, b=b) -> None:
            a @ b

        # images_per_second counts "images" of one; here each one is a matmul of 2 n^3 FLOPs.
        best = max(best, 2 * n**3 * images_per_second(product, 1, repeats, device, warmup=2))
    log(f"matmul peak ({dtype}): {best / 1e12:.3f} TFLOP/s")
    return best


def bench_architecture(
    arch: str,
    device: torch.device,
    default_batch: int,
    measure: Measure,
    log,
    test_images=1000,
    image_size=(32, 32),
) -> dict[str, Any]:
    train_images = max(default_batch, BLOG_BATCH) * 8
    dataset = synthetic_dataset(train=train_images, test=test_images, size=image_size)
    with tempfile.TemporaryDirectory() as workdir:
        loops = {
            "blog_loop": (BlogLoop(arch, dataset, device), BLOG_BATCH),
            "project_loop": (ProjectLoop(arch, dataset, BLOG_BATCH, device, Path(workdir)), BLOG_BATCH),
            "project_loop_default_batch": (
                ProjectLoop(arch, dataset, default_batch, device, Path(workdir)),
                default_batch,
            ),
        }
        loops["bare_model"] = (BareModelLoop(loops["project_loop"][0]), BLOG_BATCH)
        for loop, _batch in loops.values():  # warm-up: kernel selection, worker start-up
            for _ in range(measure.warmup_steps):
                loop.step()
            synchronize(device)  # each loop's warm-up is done before the next one's starts
        samples: dict[str, list[float]] = {name: [] for name in loops}
        for repeat in range(measure.repeats):
            for name, (loop, batch) in loops.items():
                samples[name].append(images_per_second_for(loop.step, batch, measure.seconds, device))
            log(
                f"{arch} repeat {repeat + 1}/{measure.repeats}: "
                + ", ".join(f"{n} {s[-1]:.1f}" for n, s in samples.items())
            )
        project = loops["project_loop"][0]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        evaluate(project.run, project.run.model)  # warm-up
        evaluation = evaluate(project.run, project.run.model)
        peak_memory = peak_memory_bytes(device)
        macs = count_macs(project.run.model, (3, 32, 32))
        del loops
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        **medians,
        "samples": samples,
        "speedup": medians["project_loop"] / medians["blog_loop"],
        "of_bare_model": medians["project_loop"] / medians["bare_model"],
        "default_batch": default_batch,
        "macs": macs,
        # Training FLOPs per image: forward + backward = 3x the forward pass (2 FLOPs per MAC).
        "train_flops_per_image": 3 * 2 * macs,
        "eval_images_per_second": len(dataset.test_labels) / evaluation.seconds,
        "peak_memory_bytes": peak_memory,
    }


def run_benchmark(output_dir: Path, quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    device = resolve_device("auto")
    precision = resolve_precision("auto", device)
    dtype = AUTOCAST_DTYPES.get(precision, torch.float32)
    default_batch = GPU_BATCH if device.type == "cuda" else CPU_BATCH
    measure = MEASURE[device.type]
    if quick:  # for the test suite: checks the machinery, measures nothing
        measure = QUICK_MEASURE
        default_batch = BLOG_BATCH
    log(f"benchmark on {device} ({precision}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_peak(device, dtype, log, quick)
    results = {}
    for arch in ARCHS:
        result = bench_architecture(
            arch,
            device,
            default_batch,
            measure,
            log,
            test_images=32 if quick else EVAL_IMAGES[device.type],
            image_size=QUICK_IMAGE_SIZE if quick else (32, 32),
        )
        result["achieved_flops"] = result["project_loop_default_batch"] * result["train_flops_per_image"]
        result["fraction_of_matmul_peak"] = result["achieved_flops"] / peak
        results[arch] = result
    # A quick check never overwrites a device's published table (the README shows bench-<device>.md).
    stem = bench_stem(device.type, quick)
    partial = rows_file(output_dir, device.type, quick)
    step_modes = bench_step_modes(device, partial, log, quick)
    streaming = bench_streaming(device, log, quick, measure)
    report = {
        "created": now(),
        "device": str(device),
        "device_name": environment(device)["device_name"],
        "dtype": precision,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "matmul_peak_flops": peak,
        "measure": vars(measure),
        "architectures": results,
        "step_modes": step_modes,
        "streaming": streaming,
        "env": environment(device),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / f"{stem}.json", report)
    table = render_tables(report)
    if quick:
        table = "QUICK CHECK of the machinery (one step per measurement): these numbers measure nothing.\n\n" + table
    write_text(output_dir / f"{stem}.md", table)
    partial.unlink(missing_ok=True)  # its rows are in the table now
    log(table)
    return report


def render_tables(report: dict[str, Any]) -> str:
    """A device's ``bench-<device>.md``: the loops' table, then the step-mode and streaming rows it has."""
    tables = [markdown_table(report)] if report.get("architectures") else []
    if report.get("step_modes"):
        tables.append(step_modes_table(report["step_modes"]))
    if report.get("streaming"):
        tables.append(streaming_table(report["streaming"]))
    return "\n".join(tables)


def markdown_table(report: dict[str, Any]) -> str:
    if "measure" in report:
        measure = report["measure"]
        how = f"medians of {measure['repeats']} interleaved samples of {measure['seconds']:g} s after warm-up"
    else:  # tables measured before the bench was time-bound
        how = f"medians of {report['repeats']} interleaved repeats"
    lines = [
        f"Device: {report['device_name']} ({report['device']}), {report['threads']} threads; "
        f"torch {report['torch']}; project loop in {report['dtype']}; "
        f"matmul peak {report['matmul_peak_flops'] / 1e12:.3f} TFLOP/s; "
        f"{how}; {report['created']}.",
        "",
        "| architecture | blog loop, batch 32 (img/s) | project loop, batch 32 (img/s) | speedup "
        "| bare model, batch 32 (img/s) | project loop, batch {b} (img/s) | of matmul peak | eval (img/s) "
        "| peak memory (GB) |".format(b=next(iter(report["architectures"].values()))["default_batch"]),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arch, r in report["architectures"].items():
        lines.append(
            f"| {arch} | {r['blog_loop']:.1f} | {r['project_loop']:.1f} | {r['speedup']:.2f}x "
            f"| {r['bare_model']:.1f} | {r['project_loop_default_batch']:.1f} | {r['fraction_of_matmul_peak']:.0%} "
            f"| {r['eval_images_per_second']:.0f} | {r['peak_memory_bytes'] / 1e9:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark the blog's loop against this package's")
    parser.add_argument(
        "--output-dir", type=Path, default=Path(os.environ.get("ARCHCOMPARE_OUTPUTS", "outputs")) / BENCH_DIR
    )
    parser.add_argument("--quick", action="store_true", help="one step per measurement: checks the machinery only")
    parser.add_argument(
        "--concurrency", metavar="PROFILE", help="only measure 1, 2 and 3 of PROFILE's first run side by side"
    )
    parser.add_argument(
        "--session", action="store_true", help="a lent GPU's rows only: the blog's conditions, eager and captured"
    )
    args = parser.parse_args(argv)
    if args.concurrency:
        measure_concurrency(args.concurrency, args.output_dir)
    elif args.session:
        device = resolve_device("auto")
        bench_step_modes(device, rows_file(args.output_dir, device.type), print, session=True)
    else:
        run_benchmark(args.output_dir, quick=args.quick)


def measure_concurrency(
    profile: str, output_dir: Path, counts: tuple[int, ...] = (1, 2, 3), steps: int = 20, start_delay: float = 20
) -> dict[str, Any]:
    """Whether runs of a profile may share this GPU: their aggregate rate 1, 2, 3 at a time (pipeline.session)."""
    from .pipeline.plan import plan
    from .pipeline.session import device_slug
    from .probe import concurrent_speeds

    config = plan(profile, log=lambda message: None, allow_long=True)[0].config
    device = resolve_device(config.device)
    speeds = concurrent_speeds(config, counts, steps, start_delay)
    name = environment(device)["device_name"]
    result = {
        "created": now(),
        "device_name": name,
        "profile": profile,
        "config": config.to_dict(),
        "steps": steps,
        "aggregate_images_per_second": {str(k): v for k, v in speeds.items()},
    }
    write_json(output_dir / f"concurrency-{device_slug(name)}.json", result)
    print(", ".join(f"{k} at once: {v:,.0f} img/s in all" for k, v in speeds.items()))
    return result
