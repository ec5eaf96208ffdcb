"""Other ways to run than `make report`: one run per GPU, Slurm job arrays, training without Jupyter,
train.ipynb by hand, and `make bench`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import bench_row
from processes import ROOT, make


def test_make_bench_writes_a_table_per_device(tmp_path):
    done = make("bench", "QUICK=1", outputs=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "bench" / "bench-cpu-quick.md").read_text()
    result = json.loads((tmp_path / "bench" / "bench-cpu-quick.json").read_text())
    assert not (tmp_path / "bench" / "bench-cpu.md").exists()  # the published table is left alone
    assert table.startswith("QUICK CHECK")
    assert set(result["architectures"]) == {"resnet50", "resnext50_32x4d"}
    for arch, row in result["architectures"].items():
        assert f"| {arch} |" in table
        assert row["blog_loop"] > 0 and row["project_loop"] > 0 and row["bare_model"] > 0
        assert row["speedup"] == pytest.approx(row["project_loop"] / row["blog_loop"])
    assert "blog loop, batch 32 (img/s)" in table and "of matmul peak" in table
    # The step-mode rows' machinery: a real CPU bench has none (its steps are the project loop's), a quick check
    # runs their eager rows; each row was written to the rows file as it finished, gone once the table holds them.
    assert [(row["condition"].split()[0], row["arch"], row["mode"]) for row in result["step_modes"]] == [
        (condition, arch, "eager") for condition in ("blog", "full") for arch in ("resnet50", "resnext50_32x4d")
    ]
    assert all(row["images_per_second"] > 0 and row["setup_seconds"] > 0 for row in result["step_modes"])
    assert "| conditions | precision here | architecture | steps |" in table
    assert not list((tmp_path / "bench").glob("*.partial"))


def test_a_bench_measurement_runs_for_its_seconds_not_its_steps():
    import torch

    from archcompare.bench_steps import images_per_second_for

    calls = []

    def step():  # a step of 50 ms
        calls.append(time.perf_counter())
        time.sleep(0.05)

    rate = images_per_second_for(step, 10, 0.3, torch.device("cpu"))
    assert 5 <= len(calls) <= 8 and rate == pytest.approx(10 / 0.05, rel=0.3)
    calls.clear()
    images_per_second_for(step, 10, 0.0, torch.device("cpu"))
    assert len(calls) == 1  # at least one step, however short the time


def test_a_cpu_bench_has_no_step_mode_rows_and_a_sessions_rows_merge_into_the_published_table(tmp_path):
    """Rows written as they finish (a session that ends early leaves some) merge into bench-<device>.json and its
    Markdown, which keeps the loops' table as it was and replaces only rows of the same conditions, model and steps."""
    import torch

    from archcompare.bench import render_tables
    from archcompare.bench_steps import BLOG_CONDITION, bench_step_modes, merge_rows, read_rows
    from archcompare.errors import PipelineError

    said = []
    assert bench_step_modes(torch.device("cpu"), tmp_path / "rows.partial", said.append) == []
    assert not (tmp_path / "rows.partial").exists() and "none on a CPU" in said[0]
    published = tmp_path / "bench"
    published.mkdir()
    for name in ("bench-cuda.json", "bench-cuda.md"):
        shutil.copy(ROOT / "outputs" / "bench" / name, published / name)
    loops_table = (published / "bench-cuda.md").read_text()

    def row(arch, mode, rate, device_name="NVIDIA H200"):  # one timed sample
        return bench_row(
            condition=BLOG_CONDITION, arch=arch, mode=mode, images_per_second=rate, samples=[rate],
            device_name=device_name, measure=dict(warmup_steps=10, seconds=2.0, repeats=1),
        )  # fmt: skip

    rows = tmp_path / "bench-cuda.rows.partial"
    lines = [json.dumps(row("resnet50", "eager", 1400.0)), json.dumps(row("resnet50", "cuda-graph", 5000.0))]
    rows.write_text("\n".join(lines) + '\n{"condition": "blog (fp32, ba')  # the session ended mid-row
    merge_rows(read_rows(rows), published, render_tables)
    table = (published / "bench-cuda.md").read_text()
    assert table.startswith(loops_table)  # the loops' table, as published
    assert (
        "| NVIDIA H200 | blog (fp32, batch 32, default layout) | fp32 | resnet50 | cuda-graph | 5000.0 | 1.0 | 3.57x |"
        in table
    )
    merge_rows([row("resnet50", "cuda-graph", 6000.0)], published, render_tables)
    merged = json.loads((published / "bench-cuda.json").read_text())["step_modes"]
    assert [(r["mode"], r["images_per_second"]) for r in merged] == [("eager", 1400.0), ("cuda-graph", 6000.0)]
    # Rows of another GPU model join the table beside them: each keeps its own device's name, replaces nothing of
    # the H200's, and is set beside the eager row of its own device; the file's name stays its loops' device's.
    merge_rows([row("resnet50", "eager", 1000.0, "NVIDIA H100")], published, render_tables)
    merged = json.loads((published / "bench-cuda.json").read_text())
    assert merged["device_name"] == "NVIDIA H200"
    assert [(r["device_name"], r["mode"], r["images_per_second"]) for r in merged["step_modes"]] == [
        ("NVIDIA H200", "eager", 1400.0),
        ("NVIDIA H200", "cuda-graph", 6000.0),
        ("NVIDIA H100", "eager", 1000.0),
    ]
    table = (published / "bench-cuda.md").read_text()
    assert (
        "| NVIDIA H200 | blog (fp32, batch 32, default layout) | fp32 | resnet50 | cuda-graph | 6000.0 | 1.0 | 4.29x |"
        in table
    )
    assert (
        "| NVIDIA H100 | blog (fp32, batch 32, default layout) | fp32 | resnet50 | eager | 1000.0 | 1.0 | 1.00x |"
        in table
    )
    # A row that is not whole is refused before anything is written (unpack's own checks: tests/test_session.py).
    before = (published / "bench-cuda.json").read_bytes()
    unsampled = {key: value for key, value in row("resnet50", "eager", 1.0).items() if key != "samples"}
    with pytest.raises(PipelineError, match="the rows, row 2: no samples"):
        merge_rows([row("resnext50_32x4d", "eager", 1.0), unsampled], published, render_tables)
    assert (published / "bench-cuda.json").read_bytes() == before


def test_train_notebook_runs_by_hand_and_computes_what_train_computes_for_its_config(tmp_path, images):
    """train.ipynb only builds the config from its parameters and calls train(): by hand, from notebooks/ with
    its relative paths, it writes the run directory that a direct call of train() with that config writes.
    (What train() computes is pinned by the golden run; so a run's training code version covers the notebook.)"""
    import papermill

    from archcompare.config import RunConfig
    from archcompare.training import train

    defaults = json.loads((ROOT / "notebooks" / "train.ipynb").read_text())
    assert any("../outputs/notebook/" in "".join(cell["source"]) for cell in defaults["cells"])
    output_dir = tmp_path / "notebook-run"  # relative paths are resolved from notebooks/, as in JupyterLab
    relative = os.path.relpath(output_dir, ROOT / "notebooks")
    parameters = dict(
        dataset=f"imagefolder:{images}",
        arch="resnet18",
        epochs=1,
        train_per_class=4,
        test_per_class=2,
        device="cpu",
        precision="fp32",
        deterministic=True,
        output_dir=relative,
        data_dir=os.path.relpath(tmp_path / "data", ROOT / "notebooks"),
    )
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "train.ipynb"),
        str(tmp_path / "executed.ipynb"),
        parameters=parameters,
        kernel_name="archcompare",
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
    )
    summary = json.loads((output_dir / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["env"]["trained_by"] == "train.ipynb"
    direct = RunConfig(**{**parameters, "output_dir": str(tmp_path / "direct"), "data_dir": str(tmp_path / "data")})
    train(direct, progress="none", log=lambda message: None)
    learned = ("lr", "train_loss", "train_ce", "train_acc", "test_loss", "test_acc")
    notebook_history, direct_history = (
        pd.read_csv(directory / "history.csv")[list(learned)] for directory in (output_dir, tmp_path / "direct")
    )
    pd.testing.assert_frame_equal(notebook_history, direct_history)


def spans(outputs: Path, profile: str) -> dict[str, tuple[str, str, str, int]]:
    result = {}
    for path in sorted((outputs / profile / "runs").glob("*/summary.json")):
        env = json.loads(path.read_text())["env"]
        result[path.parent.name] = (
            env["started"],
            env["finished"],
            env["cuda_visible_devices"],
            env["device_shared_by"],
        )
    return result


def test_gpus_pins_each_concurrent_run_to_its_own_id(tmp_path, images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{images}"
    two = make("-j2", "runs", "PROFILE=pair", data, "GPUS=gpu-a,gpu-b", outputs=tmp_path / "two", env=env)
    assert two.returncode == 0, two.stdout + two.stderr
    (a_start, a_end, a_gpu, a_shared), (b_start, b_end, b_gpu, b_shared) = spans(tmp_path / "two", "pair").values()
    assert {a_gpu, b_gpu} == {"gpu-a", "gpu-b"}  # each kernel saw its own id, recorded in provenance
    assert a_shared == b_shared == 1
    # One id for two runs: the second waits. Checked without Jupyter (RUNNER=python), which pins the same way.
    one = make("-j2", "runs", "PROFILE=pair", data, "GPUS=gpu-a", "RUNNER=python", outputs=tmp_path / "one", env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    (a_start, a_end, a_gpu, a_shared), (b_start, b_end, b_gpu, b_shared) = spans(tmp_path / "one", "pair").values()
    assert a_gpu == b_gpu == "gpu-a" and a_shared == b_shared == 1
    assert a_end <= b_start or b_end <= a_start  # one id: the second run waited for the first
    assert [path.name for path in (tmp_path / "one" / ".gpu-slots").iterdir()] == ["gpu-a.0.lock"]
    # An id listed twice: two runs share that GPU at once, and their records say so (timings not compared).
    shared = make(
        "-j2", "runs", "PROFILE=pair", data, "GPUS=gpu-a,gpu-a", "RUNNER=python", outputs=tmp_path / "sh", env=env
    )
    assert shared.returncode == 0, shared.stdout + shared.stderr
    (a_start, a_end, a_gpu, a_shared), (b_start, b_end, b_gpu, b_shared) = spans(tmp_path / "sh", "pair").values()
    assert a_gpu == b_gpu == "gpu-a" and a_shared == b_shared == 2
    # Side by side. The records' times have whole seconds, and a run of this profile takes about one, so
    # the witness is the slots: a run takes the second slot only while another holds the first
    # (gpu_slot takes the first free one), and filelock leaves each lock's file behind.
    assert a_start <= b_end and b_start <= a_end
    assert sorted(path.name for path in (tmp_path / "sh" / ".gpu-slots").iterdir()) == ["gpu-a.0.lock", "gpu-a.1.lock"]


def test_a_slurm_job_array_trains_each_planned_run_without_jupyter(tmp_path, images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    outputs = tmp_path / "out"
    planned = make("plan", "PROFILE=pair", f"DATA=imagefolder:{images}", outputs=outputs, env=env)
    assert planned.returncode == 0, planned.stderr
    assert (outputs / "pair" / "runs.txt").read_text().split() == ["resnet18-seed0", "resnet18-seed1"]
    for task in (0, 1):  # what Slurm does for --array=0-1, by hand
        done = subprocess.run(
            ["bash", str(ROOT / "tools" / "slurm_runs.sh"), "pair"],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, **env, "SLURM_ARRAY_TASK_ID": str(task), "OUTPUTS": str(outputs), "RUNNER": "python"},
        )
        assert done.returncode == 0, done.stdout + done.stderr
    for name in ("resnet18-seed0", "resnet18-seed1"):
        run = outputs / "pair" / "runs" / name
        summary = json.loads((run / "summary.json").read_text())
        assert summary["env"]["trained_by"] == "archcompare.cli train (no notebook)"
        assert (
            not (run / "train.ipynb").exists() and (run / "history.csv").exists() and (run / "predictions.npz").exists()
        )
    again = make("runs", "PROFILE=pair", outputs=outputs, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("up to date") == 2 and "epoch" not in again.stdout  # nothing retrained
    from archcompare import report  # the report's runs table says how each run was trained

    trained_by = report.runs_table(report.load_runs(outputs / "pair"))["trained by"]
    assert set(trained_by) == {"archcompare.cli train (no notebook)"}
    beyond = subprocess.run(
        ["bash", str(ROOT / "tools" / "slurm_runs.sh"), "pair"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "SLURM_ARRAY_TASK_ID": "5", "OUTPUTS": str(outputs)},
    )
    assert beyond.returncode == 2 and "has no run in" in beyond.stderr
