"""``make bench``: the blog post's training loop against this package's, on the same machine.

Both loops train on the same generated 32x32 images (throughput does not depend on pixel values)
in one process. Measurements interleave the loops (blog, project at batch 32, project at the
default batch), repeat that several times after a warm-up, and report medians, so that a drift
in machine speed affects every loop alike.

Streaming rows (``bench_stream``): decoding alone, training alone and both, on generated JPEGs.

Writes ``outputs/bench/bench-<device>.json`` and ``bench-<device>.md`` (cpu or cuda): a GPU
machine's results sit beside the CPU's instead of replacing them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchvision.transforms as T
from torch.utils.data import DataLoader

from .bench_stream import bench_streaming, streaming_table
from .config import RunConfig
from .data.sources import Dataset
from .files import write_json, write_text
from .models import build_model, count_macs
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

ARCHS = ("resnet50", "resnext50_32x4d")
GPU_BATCH = 512  # the full profile's batch: what a GPU trains at
CPU_BATCH = RunConfig().batch_size  # the CPU is fastest at 32-64
QUICK_IMAGE_SIZE = (8, 8)  # QUICK=1: a 16th of the work of 32x32 images, through the same code paths


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
    repeats: int,
    steps: dict[str, int],
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
        for loop, batch in loops.values():  # warm-up: kernel selection, worker start-up
            images_per_second(loop.step, batch, steps["warmup"], device)
        samples: dict[str, list[float]] = {name: [] for name in loops}
        for repeat in range(repeats):
            for name, (loop, batch) in loops.items():
                samples[name].append(images_per_second(loop.step, batch, steps[name], device))
            log(f"{arch} repeat {repeat + 1}/{repeats}: " + ", ".join(f"{n} {s[-1]:.1f}" for n, s in samples.items()))
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


# The two conditions the comparison is timed under: the blog's loop, and the full profile's.
STEP_CONDITIONS = {
    "blog (fp32, batch 32, default layout)": dict(precision="fp32", batch_size=32, channels_last=False, recipe="blog"),
    "full (bf16, batch 512, channels_last)": dict(
        precision="bf16", batch_size=512, channels_last=True, recipe="standard"
    ),
}
# torch.compile's own ways of cutting launch overhead, measured beside the plain CUDA graph for
# ResNet-50 at the blog's batch, where launches are the bottleneck; compile time counts as setup.
COMPILE_MODES = ("reduce-overhead", "max-autotune")
SETUP_STEPS = 3  # steps whose time counts as setup: a compiled model compiles during its first steps


def bench_step_modes(device: torch.device, log: Callable[[str], None], quick: bool = False) -> list[dict[str, Any]]:
    """Eager against captured steps (and torch.compile's modes) under the blog's and the full profile's conditions.

    Each row: images/s of the training loop's own steps after setup, and the setup itself (capture or
    compilation plus the first steps), which a session on a lent GPU pays too. On a CPU only the
    eager rows exist (in fp32 where bf16 is not native); QUICK=1 checks the machinery on tiny images.
    """
    rows = []
    for condition, settings in STEP_CONDITIONS.items():
        settings = dict(settings)
        if device.type != "cuda":
            settings["precision"] = resolve_precision("auto", device) if settings["precision"] == "bf16" else "fp32"
        if quick:
            settings["batch_size"] = 8
        for arch in ARCHS:
            modes = [("eager", None), ("cuda-graph", None)] if device.type == "cuda" else [("eager", None)]
            if device.type == "cuda" and arch == "resnet50" and condition.startswith("blog"):
                modes += [("eager", mode) for mode in COMPILE_MODES]
            for step_mode, compile_mode in modes:
                row = _bench_step_mode(arch, settings, step_mode, compile_mode, device, quick)
                row.update(condition=condition, arch=arch)
                log(
                    f"{condition}, {arch}, {row['mode']}: {row['images_per_second']:.1f} img/s "
                    f"after {row['setup_seconds']:.1f} s of setup"
                )
                rows.append(row)
    return rows


def _bench_step_mode(
    arch: str, settings: dict, step_mode: str, compile_mode: str | None, device: torch.device, quick: bool
) -> dict[str, Any]:
    batch = settings["batch_size"]
    dataset = synthetic_dataset(train=batch * 8, test=batch, size=QUICK_IMAGE_SIZE if quick else (32, 32))
    with tempfile.TemporaryDirectory() as workdir:
        config = RunConfig(
            arch=arch, device=device.type, train_per_class=0, test_per_class=0, output_dir=workdir, **settings
        )
        timer = time.perf_counter()
        steps = TrainingSteps(config, dataset, step_mode, compile=compile_mode)
        for _ in range(SETUP_STEPS):
            steps()
        synchronize(device)
        setup = time.perf_counter() - timer
        measured = 2 if quick else (20 if batch >= 256 else 100)
        rate = statistics.median(images_per_second(steps, batch, measured, device) for _ in range(1 if quick else 3))
        mode = f"torch.compile {compile_mode}" if compile_mode else steps.steps.mode
        precision = steps.run.precision  # as resolved: a CPU without native bf16 runs fp32
        return {
            "mode": mode,
            "images_per_second": rate,
            "setup_seconds": setup,
            "batch_size": batch,
            "precision": precision,
        }


def step_modes_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| conditions | precision here | architecture | steps | img/s | setup (s) | vs eager |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    eager = {(row["condition"], row["arch"]): row["images_per_second"] for row in rows if row["mode"] == "eager"}
    for row in rows:
        ratio = row["images_per_second"] / eager[(row["condition"], row["arch"])]
        lines.append(
            f"| {row['condition']} | {row['precision']} | {row['arch']} | {row['mode']} | {row['images_per_second']:.1f} "
            f"| {row['setup_seconds']:.1f} | {ratio:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def run_benchmark(output_dir: Path, quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    device = resolve_device("auto")
    precision = resolve_precision("auto", device)
    dtype = AUTOCAST_DTYPES.get(precision, torch.float32)
    default_batch = GPU_BATCH if device.type == "cuda" else CPU_BATCH
    if device.type == "cuda":
        steps = {"warmup": 10, "blog_loop": 50, "project_loop": 50, "project_loop_default_batch": 20, "bare_model": 50}
        repeats = 5
    else:
        steps = {"warmup": 1, "blog_loop": 4, "project_loop": 6, "project_loop_default_batch": 2, "bare_model": 6}
        repeats = 3
    if quick:  # for the test suite: checks the machinery, measures nothing
        steps = {name: 1 for name in steps}
        repeats = 1
        default_batch = BLOG_BATCH
    log(f"benchmark on {device} ({precision}), torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = matmul_peak(device, dtype, log, quick)
    results = {}
    for arch in ARCHS:
        result = bench_architecture(
            arch,
            device,
            default_batch,
            repeats,
            steps,
            log,
            test_images=32 if quick else 1000,
            image_size=QUICK_IMAGE_SIZE if quick else (32, 32),
        )
        result["achieved_flops"] = result["project_loop_default_batch"] * result["train_flops_per_image"]
        result["fraction_of_matmul_peak"] = result["achieved_flops"] / peak
        results[arch] = result
    step_modes = bench_step_modes(device, log, quick)
    streaming = bench_streaming(device, log, quick)
    report = {
        "created": now(),
        "device": str(device),
        "device_name": environment(device)["device_name"],
        "dtype": precision,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "matmul_peak_flops": peak,
        "repeats": repeats,
        "steps": steps,
        "architectures": results,
        "step_modes": step_modes,
        "streaming": streaming,
        "env": environment(device),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    # A quick check never overwrites a device's published table (the README shows bench-<device>.md).
    stem = f"bench-{device.type}-quick" if quick else f"bench-{device.type}"
    write_json(output_dir / f"{stem}.json", report)
    table = markdown_table(report) + "\n" + step_modes_table(step_modes) + "\n" + streaming_table(streaming)
    if quick:
        table = "QUICK CHECK of the machinery (one step per measurement): these numbers measure nothing.\n\n" + table
    write_text(output_dir / f"{stem}.md", table)
    log(table)
    return report


def markdown_table(report: dict[str, Any]) -> str:
    lines = [
        f"Device: {report['device_name']} ({report['device']}), {report['threads']} threads; "
        f"torch {report['torch']}; project loop in {report['dtype']}; "
        f"matmul peak {report['matmul_peak_flops'] / 1e12:.3f} TFLOP/s; "
        f"medians of {report['repeats']} interleaved repeats; {report['created']}.",
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
        "--output-dir", type=Path, default=Path(os.environ.get("ARCHCOMPARE_OUTPUTS", "outputs")) / "bench"
    )
    parser.add_argument("--quick", action="store_true", help="one step per measurement: checks the machinery only")
    parser.add_argument(
        "--concurrency", metavar="PROFILE", help="only measure 1, 2 and 3 of PROFILE's first run side by side"
    )
    args = parser.parse_args(argv)
    if args.concurrency:
        measure_concurrency(args.concurrency, args.output_dir)
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
