"""A stretch of lent GPU time: planning it (pipeline.session: estimates from committed runs, then a probe,
against the deadline) and the tooling around it (tools/gpu_session.sh: the gate, the queue, collect,
unpack), rehearsed on the CPU."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time

import pytest
from conftest import bench_row
from processes import ROOT, hold

from archcompare.paths import outputs_dir
from archcompare.pipeline.session import (
    NOTEBOOK_OVERHEAD_SECONDS,
    SAFETY_SECONDS,
    SETUP_SECONDS,
    plan_session,
    write_queue,
)

NOW = 1_000_000.0  # the planning clock of these tests: it stands still unless a test moves it


def session_plan(queue, budget, *args, clock=lambda: NOW, **kwargs):
    """plan_session with ``budget`` seconds of device time from NOW, estimating from the test's outputs only
    (not the repository's committed runs)."""
    return plan_session(queue, NOW + budget, *args, records_from=(outputs_dir(),), clock=clock, **kwargs)


# A profile of these tests. The tiny runs are seeds 0 and 1 of the first two of TINY_ARCHITECTURES.
TINY = (
    "architectures: [{architectures}]\nseeds: [0, 1, 2]\n"
    "parameters: {{epochs: {epochs}, batch_size: 10, lr: 0.05, schedule: cosine, nesterov: false, recipe: standard,\n"
    "  precision: fp32, device: cpu, deterministic: true, train_per_class: 0, test_per_class: 0}}\n"
)
TINY_ARCHITECTURES = "resnet50, resnext50_32x4d, resnet18"


@pytest.fixture
def session(tmp_path, tiny_runs, profile, monkeypatch):
    """The tiny runs (two seeds of two architectures, 2 epochs; conftest's copy, in tmp_path/outputs/tiny) committed
    under a profile with a third seed."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tiny.yaml").write_text(TINY.format(architectures=TINY_ARCHITECTURES, epochs=2))
    (profiles / "tiny-long.yaml").write_text(TINY.format(architectures=TINY_ARCHITECTURES, epochs=6))
    monkeypatch.setenv("ARCHCOMPARE_PROFILES", str(profiles))
    monkeypatch.setenv("ARCHCOMPARE_OUTPUTS", str(profile.parent))
    records = {path.parent.name: json.loads(path.read_text()) for path in (profile / "runs").glob("*/summary.json")}
    device = next(iter(records.values()))["env"]["device_name"]
    return f"imagefolder:{tiny_runs.parent / 'images'}", device, records


def test_a_run_is_estimated_from_the_wall_time_of_committed_runs_with_its_settings(session):
    data, device, records = session
    queue = ["tiny:resnet50-seed2", "tiny:resnext50_32x4d-seed2", "tiny:resnet50-seed0"]
    plan = session_plan(queue, 3600, device, data, log=lambda message: None)
    assert [e.item for (e,) in plan.start] == queue[:2]  # seed 0 is complete: nothing to queue
    for (estimate,) in plan.start:
        arch = estimate.item.split(":")[1].split("-")[0]
        walls = [r["timing"]["wall_seconds"] for name, r in records.items() if name.startswith(arch + "-")]
        # The wall time starts inside train(): the notebook's kernel start and end come on top.
        assert estimate.seconds == max(walls) + NOTEBOOK_OVERHEAD_SECONDS
        assert estimate.basis == "wall time of 2 such run(s) + notebook"


def test_the_notebook_overhead_covers_what_the_committed_gpu_runs_spent_outside_their_wall_time():
    """papermill's duration (kernel start to notebook written) less the recorded wall time, for every
    committed run that papermill ran on a GPU: the allowance covers the largest, without inflating it."""
    from archcompare.paths import ROOT

    overheads = []
    for summary_path in sorted((ROOT / "outputs").glob("*/runs/*/summary.json")):
        summary = json.loads(summary_path.read_text())
        notebook = summary_path.parent / "train.ipynb"
        if summary["env"]["device"].startswith("cuda") and notebook.exists():
            duration = json.loads(notebook.read_text())["metadata"]["papermill"]["duration"]
            overheads.append(duration - summary["timing"]["wall_seconds"])
    assert len(overheads) >= 4 and min(overheads) > 0
    assert max(overheads) <= NOTEBOOK_OVERHEAD_SECONDS <= max(overheads) + 5, overheads


def test_only_what_fits_the_time_left_is_started_in_queue_order(session):
    data, device, _ = session
    queue = ["tiny:resnext50_32x4d-seed2", "tiny:resnet50-seed2"]
    whole = session_plan(queue, 3600, device, data, log=lambda message: None)
    first = whole.start[0][0].seconds
    tight = session_plan(queue, SAFETY_SECONDS + first + 0.01, device, data, log=lambda message: None)
    assert [e.item for (e,) in tight.start] == ["tiny:resnext50_32x4d-seed2"]
    assert [e.item for e in tight.left] == ["tiny:resnet50-seed2"] and "does not fit" in tight.summary()


def test_without_a_run_of_the_same_settings_the_rate_of_a_run_with_the_same_step_is_used_then_a_probe(session):
    data, device, records = session
    longer = session_plan(["tiny-long:resnet50-seed0"], 3600, device, data, log=lambda message: None).start[0][0]
    runs = [r for name, r in records.items() if name.startswith("resnet50-")]
    rate = min(r["timing"]["images_per_second"] for r in runs)
    eval_rate = min(r["timing"]["eval_images_per_second"] for r in runs)
    expected = 6 * (30 / rate + 24 / eval_rate) + SETUP_SECONDS  # 30 training and 24 test images, 6 epochs
    assert longer.seconds == pytest.approx(expected) and "img/s of 2 run(s) with its step" in longer.basis
    # resnet18 has no committed run: no estimate, so it does not start, unless a probe measures its step.
    unknown = session_plan(["tiny:resnet18-seed0"], 3600, device, data, log=lambda message: None)
    assert not unknown.start and unknown.left[0].seconds is None
    probed = session_plan(["tiny:resnet18-seed0"], 3600, device, data, probe=lambda run: 100.0, log=print)
    assert probed.start[0][0].basis == "100 img/s probed now (eager steps)"
    assert probed.start[0][0].seconds == pytest.approx(2 * (30 / 100 + 24 / 300) + SETUP_SECONDS)


def test_runs_trained_for_accuracy_share_the_gpu_only_when_the_measured_aggregate_rate_pays(session, tmp_path):
    from archcompare.pipeline.session import device_slug

    data, device, _ = session
    queue = ["tiny:resnet50-seed2", "tiny:resnext50_32x4d-seed2"]
    measured = tmp_path / "outputs" / "bench" / f"concurrency-{device_slug(device)}.json"
    measured.parent.mkdir()
    measured.write_text(json.dumps({"aggregate_images_per_second": {"1": 100.0, "2": 150.0, "3": 110.0}}))
    shared = session_plan(queue, 3600, device, data, log=lambda message: None, shareable=("tiny",))
    # Two at a time make 1.5x the images per second (three make 1.1x: not worth it), so each run takes 2/1.5 of its time.
    assert shared.slowdown == {2: pytest.approx(2 / 1.5)}
    ((first, second),) = shared.start
    assert shared.seconds((first, second)) == pytest.approx(max(first.seconds, second.seconds) * 2 / 1.5)
    assert "2 sharing the GPU" in shared.summary()
    assert len(session_plan(queue, 3600, device, data, log=lambda message: None).start) == 2  # not shareable: alone
    measured.write_text(json.dumps({"aggregate_images_per_second": {"1": 100.0, "2": 110.0}}))
    assert len(session_plan(queue, 3600, device, data, log=lambda m: None, shareable=("tiny",)).start) == 2


def test_the_concurrency_measurement_writes_the_aggregate_rate_of_runs_side_by_side(session, tmp_path):
    from archcompare.bench import measure_concurrency

    # The machinery only: a small model, and no common start time to wait for (a measurement waits 20 s
    # for every process to import torch).
    (tmp_path / "profiles" / "small.yaml").write_text(TINY.format(architectures="resnet18", epochs=2))
    result = measure_concurrency("small", tmp_path / "bench", counts=(1, 2), steps=1, start_delay=0)
    speeds = result["aggregate_images_per_second"]
    assert set(speeds) == {"1", "2"} and all(speed > 0 for speed in speeds.values())
    assert list((tmp_path / "bench").glob("concurrency-*.json"))


def test_the_time_spent_planning_comes_off_the_deadline(session):
    """Decoding the data and probing take device time too: what is left is counted after them."""
    data, device, _ = session
    clock = [NOW]

    def slow_probe(run):  # as if timing its steps took 100 s of the device's time
        clock[0] += 100
        return 100.0

    needs = 2 * (30 / 100 + 24 / 300) + SETUP_SECONDS + SAFETY_SECONDS
    fits = session_plan(["tiny:resnet18-seed0"], needs + 1, device, data, probe=lambda run: 100.0, log=print)
    assert len(fits.start) == 1 and fits.planning_seconds == 0
    late = session_plan(
        ["tiny:resnet18-seed0"], needs + 1, device, data, probe=slow_probe, log=print, clock=lambda: clock[0]
    )
    assert not late.start and late.planning_seconds == 100 and late.budget_seconds == pytest.approx(needs + 1 - 100)
    assert "after 100 s of planning" in late.summary()


def test_only_runs_that_executed_as_this_one_will_estimate_it(session, monkeypatch):
    """The committed tiny runs stepped eagerly in channels_last: they say nothing of captured steps or another
    layout, which a probe in that step mode measures instead (the probe gets the planned run)."""
    data, device, _ = session
    eager = session_plan(["tiny:resnet50-seed2"], 3600, device, data, log=lambda message: None)
    assert "wall time of 2 such run(s)" in eager.start[0][0].basis
    for variable, value, mode in (
        ("ARCHCOMPARE_STEP_MODE", "cuda-graph", "cuda-graph"),
        ("ARCHCOMPARE_CHANNELS_LAST", "0", "eager"),
    ):
        monkeypatch.setenv(variable, value)
        unknown = session_plan(["tiny:resnet50-seed2"], 3600, device, data, log=lambda message: None)
        assert (
            not unknown.start
            and unknown.left[0].basis == f"no run of its step ({mode}) on this GPU model, and no probe"
        )
        seen = []

        def probe(run, seen=seen):
            seen.append(run)
            return 50.0

        probed = session_plan(["tiny:resnet50-seed2"], 3600, device, data, probe=probe)
        assert probed.start[0][0].basis == f"50 img/s probed now ({mode} steps)"
        assert seen[0].parameters["step_mode"] == os.environ.get("ARCHCOMPARE_STEP_MODE", "auto")
        monkeypatch.delenv(variable)


def test_the_bench_rows_and_the_data_penalty_are_queue_items_with_their_own_estimates(session, tmp_path):
    from archcompare.bench_steps import session_rows_seconds
    from archcompare.data_penalty import expected_seconds

    data, device, _ = session
    queue = ["tiny:resnet50-seed2", "bench", "penalty"]
    plan = session_plan(queue, 3600, device, data, log=lambda message: None)
    items = {e.item: e.seconds for (e,) in plan.start}
    assert list(items) == queue
    assert items["bench"] == session_rows_seconds() and items["penalty"] == expected_seconds(10)
    # The queue file: the latest end (packing time kept free), then each line's estimate and items.
    write_queue(plan, tmp_path / "queue.txt")
    lines = (tmp_path / "queue.txt").read_text().splitlines()
    assert lines[0] == f"deadline {NOW + 3600 - SAFETY_SECONDS:.0f}"
    assert lines[1:] == [f"{seconds:.0f} {item}" for item, seconds in items.items()]
    # With only the penalty's time left after the run, the bench (first in the queue) is left, the penalty starts.
    tight = items["tiny:resnet50-seed2"] + items["penalty"] + SAFETY_SECONDS + 1
    fitted = session_plan(queue, tight, device, data, log=lambda message: None)
    assert [e.item for (e,) in fitted.start] == ["tiny:resnet50-seed2", "penalty"]
    assert [e.item for e in fitted.left] == ["bench"]


def test_the_session_probe_times_64_batches_in_the_runs_step_mode_on_a_gpu_and_a_quick_step_on_a_cpu(
    session, monkeypatch, capsys
):
    from archcompare import cli
    from archcompare.probe import probe_shape

    gpu = probe_shape("cuda", 512, thorough=True)
    assert gpu.batch == 512 and gpu.batches_per_epoch >= 64 and gpu.steps >= 100 and gpu.warmup > 0
    assert probe_shape("cpu", 512, thorough=True) == probe_shape("cpu", 512)  # make report's two-hour check
    assert (probe_shape("cpu", 512).batch, probe_shape("cpu", 512).steps) == (32, 2)
    # Through the command the GPU session runs: the probe steps in the run's own step mode, here one a CPU lacks.
    data, device, _ = session
    monkeypatch.setenv("ARCHCOMPARE_STEP_MODE", "cuda-graph")
    status = cli.main(
        [
            "session-plan",
            "--queue",
            "tiny:resnet18-seed0",
            "--deadline",
            str(time.time() + 3600),
            "--data",
            data,
            "--probe",
        ]
    )
    assert status == 2
    assert "error: step_mode='cuda-graph' cannot be used here: it needs a CUDA device" in capsys.readouterr().err


# --- the session's tooling: the gate, the queue's clock, pack, collect, unpack (tools/gpu_session.sh) ---

SCRIPT = ROOT / "tools" / "gpu_session.sh"


def session_script(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def test_the_session_needs_a_budget_and_collect_on_a_fresh_machine_stops_at_once(tmp_path):
    started = session_script("start", env={"JOB": str(tmp_path / "job"), "BUDGET": ""})
    assert started.returncode == 2 and started.stderr.startswith("error: BUDGET must be the device seconds left")
    assert not (tmp_path / "job").exists()  # nothing done before the check
    began = time.monotonic()
    collected = session_script("collect", env={"JOB": str(tmp_path / "nothing")})
    assert collected.returncode == 1 and "this machine is fresh, and the queue was lost" in collected.stderr
    assert time.monotonic() - began < 5


def test_the_gate_fails_on_skipped_device_tests_though_pytest_exits_0(tmp_path):
    """On a CPU the device tests are skipped: pytest exits 0, but the gate counts the node ids that passed.
    (Also shows that every default node id is collected: one that is not makes pytest exit 4.)"""
    done = session_script("gate", env={"JOB": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "gate.txt").read_text().strip() == "failed: pytest exit 0, 0 of 5 passed (5 skipped)"


def test_the_queue_starts_a_line_only_if_its_estimate_ends_before_the_deadline(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    (job / "queue.txt").write_text(f"deadline {time.time() + 30:.0f}\n600 tiny:resnet50-seed0\n")
    script = f"source {SCRIPT} && JOB={job} REPO={ROOT} DATA=none && run_queue"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = (job / "done.txt").read_text().splitlines()
    assert "tiny:resnet50-seed0 skipped" in lines[0] and "would end after the deadline" in lines[0]
    assert lines[1].startswith("all done") and not list(job.glob("queue-*.log"))  # nothing was started


def queue_job(tmp_path, done: str, pid: int | None = None):
    """A job folder as `start` leaves it: the queue's plan, what it finished (done.txt), its process's pid."""
    job = tmp_path / "job"
    job.mkdir(exist_ok=True)
    (job / "queue.txt").write_text(f"deadline {time.time() + 600:.0f}\n60 tiny:resnet50-seed0\n60 bench\n")
    (job / "done.txt").write_text(done)
    if pid is not None:
        (job / "queue.pid").write_text(f"{pid}\n")
    return {"JOB": str(job), "OUT": str(tmp_path / "out"), "WAIT": "3", "DATA_ROOT": str(tmp_path / "data")}


def test_start_and_collect_exit_non_zero_when_an_item_failed_or_the_queue_died(tmp_path):
    """Before, their status was `tail`'s: 0 beside a failed item whose log existed, 1 when all passed without logs."""
    failed = "tiny:resnet50-seed0 exit 0 at 10:00:00\nbench exit 1 at 10:01:00\npenalty skipped at 10:01:00: late\n"
    env = queue_job(tmp_path, failed + "all done at 10:01:00\n")
    (tmp_path / "job" / "queue-bench.log").write_text("Traceback ...\n")
    collected = session_script("collect", env=env)
    assert collected.returncode == 1
    assert collected.stderr == "error: failed in the queue: bench (exit 1); their logs are in logs.tgz\n"
    (tmp_path / "job" / "done.txt").write_text("tiny:resnet50-seed0 exit 0 at 10:00:00\nall done at 10:01:00\n")
    (tmp_path / "job" / "queue-bench.log").unlink()
    collected = session_script("collect", env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    # A queue whose process is gone without "all done" (killed): collect says so at once, not after WAIT.
    gone = subprocess.Popen(["true"])
    gone.wait()
    env = queue_job(tmp_path, "tiny:resnet50-seed0 exit 0 at 10:00:00\n", pid=gone.pid)
    env["WAIT"] = "30"
    began = time.monotonic()
    collected = session_script("collect", env=env)
    assert collected.returncode == 1 and time.monotonic() - began < 15
    assert collected.stderr == "error: the queue's process ended without finishing; what finished is packed\n"


def test_collect_packs_only_runs_with_every_file_that_unpack_takes(tmp_path):
    """unpack refuses a whole archive for one incomplete run, so pack leaves such a run out: before, a run without
    its notebook went into results.tgz, and every run of the session came back refused."""
    from archcompare.pipeline.plan import RUN_FILES

    env = queue_job(tmp_path, "tiny:resnet50-seed0 exit 0 at 10:00:00\nall done at 10:01:00\n")
    runs = tmp_path / "job" / "outputs" / "tiny" / "runs"
    present = {
        "resnet50-seed0": RUN_FILES,  # complete
        "resnet50-seed1": [name for name in RUN_FILES if name != "train.ipynb"],  # no notebook
        "resnext50_32x4d-seed0": [*RUN_FILES, ".train.partial.ipynb"],  # papermill still writing it
    }
    for run, names in present.items():
        (runs / run).mkdir(parents=True)
        for name in names:
            (runs / run / name).write_text("{}\n")
    collected = session_script("collect", env=env)
    assert collected.returncode == 0, collected.stdout + collected.stderr
    with tarfile.open(tmp_path / "out" / "results.tgz") as archive:
        assert sorted(archive.getnames()) == sorted(f"tiny/runs/resnet50-seed0/{name}" for name in RUN_FILES)


def test_a_queue_that_died_without_finishing_does_not_block_a_new_start(tmp_path):
    """A queue that still runs blocks start (call collect); one whose process is gone does not, or that machine could
    never start a queue again. (The start then goes on to the data, which this test does not give it.)"""
    job = tmp_path / "job"
    job.mkdir()
    (job / "queue.sh").write_text("sleep 60\n")
    running = subprocess.Popen(["bash", str(job / "queue.sh")])  # as start runs the queue (setsid nohup bash ...)
    try:
        env = {**queue_job(tmp_path, "", pid=running.pid), "BUDGET": "600", "STAGE": str(tmp_path / "stage")}
        blocked = session_script("start", env=env)
        assert blocked.returncode == 2 and blocked.stderr.startswith(
            f"error: a queue started earlier still runs in {job}"
        )
        assert blocked.stderr.endswith("call collect, not start\n")
    finally:
        running.kill()
        running.wait()
    started = session_script("start", env=env)
    assert "an earlier queue in" in started.stdout and "ended without finishing" in started.stdout
    assert "still runs" not in started.stderr and "cifar10-jpeg.tar.gz" in started.stderr  # it went on, to the data
    assert not (job / "queue.pid").exists() and not (job / "done.txt").exists()  # the dead queue's state is gone


def results_archive(path, members: dict[str, bytes], link: str | None = None):
    import io

    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
    return path


# What papermill leaves of train.ipynb, in brief: the tiny runs were trained without Jupyter.
NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def run_files(directory) -> dict[str, bytes]:
    """A committed run's files as a session packs them, its executed notebook among them."""
    files = {name: (directory / name).read_bytes() for name in ("history.csv", "predictions.npz", "summary.json")}
    return {"train.ipynb": NOTEBOOK, **files}


def seed2_members(runs) -> dict[str, bytes]:
    """tiny/runs/resnet50-seed2 in an archive: seed 0's files, its record saying seed 2 (a run the profile trains)."""
    files = run_files(runs / "resnet50-seed0")
    summary = json.loads(files["summary.json"])
    files["summary.json"] = json.dumps({**summary, "seed": 2, "config": {**summary["config"], "seed": 2}}).encode()
    return {f"tiny/runs/resnet50-seed2/{name}": data for name, data in files.items()}


def penalty_summary(fingerprint: str = "71e1cb81bb756883") -> dict:
    from archcompare.data_penalty import summarise

    return summarise([0.9301, 0.9305, 0.9298], "cifar10-jpeg", fingerprint, "NVIDIA H200")


def listing(folder) -> list:
    return sorted((path, path.stat().st_mtime_ns) for path in folder.rglob("*"))


def test_unpack_refuses_an_archive_with_anything_but_complete_runs_of_existing_profiles(session, tmp_path):
    from archcompare.errors import PipelineError
    from archcompare.pipeline.unpack import unpack

    outputs = tmp_path / "outputs"
    files = run_files(outputs / "tiny" / "runs" / "resnet50-seed0")
    summary = json.loads(files["summary.json"])
    other_lr = json.dumps({**summary, "config": {**summary["config"], "lr": 0.1}}).encode()
    no_dataset = {key: value for key, value in summary["config"].items() if key != "dataset"}
    run = "tiny/runs/resnet50-seed2/"
    whole = seed2_members(outputs / "tiny" / "runs")

    def but(name, data):  # the whole seed-2 run with one file replaced (None: left out)
        return {member: content for member, content in whole.items() if not member.endswith("/" + name)} | (
            {run + name: data} if data is not None else {}
        )

    history = files["history.csv"].decode().splitlines()
    cases = {
        "/etc/cron.d/x": ({"/etc/cron.d/x": b"x"}, None, "is not a file of <profile>/runs/<run>/"),
        "..": ({"tiny/runs/resnet50-seed2/../../../x": b"x"}, None, "is not a file of <profile>/runs/<run>/"),
        "outside runs": ({"tiny/plan.json": b"{}"}, None, "is not a file of <profile>/runs/<run>/"),
        "a link": ({}, run + "summary.json", "is not a regular file"),
        "another file": ({run + "checkpoint.pt": b"x"}, None, "is not one of a run's files"),
        "no profile": ({"nosuch/runs/resnet50-seed0/summary.json": b"{}"}, None, "unknown profile 'nosuch'"),
        "no such run": ({"tiny/runs/vgg-seed0/summary.json": b"{}"}, None, "profile 'tiny' has no run 'vgg-seed0'"),
        "incomplete": (
            {run + "history.csv": files["history.csv"]},
            None,
            "is not complete (no train.ipynb, predictions.npz, summary.json)",
        ),
        "no predictions": (but("predictions.npz", None), None, "is not complete (no predictions.npz)"),
        "no notebook": (but("train.ipynb", None), None, "is not complete (no train.ipynb)"),
        "bad predictions": (but("predictions.npz", b"not a zip"), None, "predictions.npz is not a run's predictions"),
        "short history": (
            but("history.csv", "\n".join(history[:-1]).encode()),
            None,
            "history.csv's epochs are not 1 to 2 (1 row(s), the last 1)",
        ),
        "bad notebook": (but("train.ipynb", b"[]"), None, "train.ipynb is not a notebook"),
        "another run": ({run + name: data for name, data in files.items()}, None, "it is resnet50 seed 0"),
        "other settings": (
            {f"tiny/runs/resnet50-seed0/{name}": data for name, data in files.items()}
            | {"tiny/runs/resnet50-seed0/summary.json": other_lr},
            None,
            "(lr); make report would retrain",
        ),
        "no dataset": (
            but("summary.json", json.dumps({**json.loads(whole[run + "summary.json"]), "config": no_dataset}).encode()),
            None,
            "its summary.json is not a run record (its config names no dataset)",
        ),
    }
    before = listing(outputs)
    for number, (name, (members, link, message)) in enumerate(cases.items()):
        folder = tmp_path / f"case{number}"
        folder.mkdir()
        results_archive(folder / "results.tgz", members, link)
        with pytest.raises(PipelineError, match=re.escape(message) + ".*nothing unpacked"):
            unpack(folder, log=lambda message: None)
        assert listing(outputs) == before, name  # nothing written


def test_unpack_refuses_bench_rows_and_a_penalty_that_are_not_whole_before_it_writes_any_run(session, tmp_path):
    """Beside a good archive: the rows file and the penalty are checked before the runs are written, and a row's
    device (which names the table it goes into) is cuda or cpu, nothing that leads out of outputs/bench/."""
    from archcompare.errors import PipelineError
    from archcompare.pipeline.unpack import unpack

    outputs = tmp_path / "outputs"
    whole = seed2_members(outputs / "tiny" / "runs")
    no_samples = {key: value for key, value in bench_row().items() if key != "samples"}
    cases = {
        "escaping device": (
            {"bench-cuda.rows.partial": json.dumps(bench_row(device="/../../escaped")) + "\n"},
            "bench-cuda.rows.partial, row 1: device is '/../../escaped', not one of cuda, cpu",
        ),
        "a row without keys": (
            {"bench-cuda.rows.partial": json.dumps(bench_row()) + "\n" + json.dumps({"device": "cuda"}) + "\n"},
            "bench-cuda.rows.partial, row 2: no condition, arch, mode, images_per_second, samples",
        ),
        "a row without samples": (
            {"bench-cuda.rows.partial": json.dumps(no_samples) + "\n"},
            "bench-cuda.rows.partial, row 1: no samples",
        ),
        "a bad line before the last": (
            {"bench-cuda.rows.partial": '{"cut\n' + json.dumps(bench_row()) + "\n"},
            "bench-cuda.rows.partial, line 1: not a JSON row",
        ),
        "a pipe in a table cell": (
            {"bench-cuda.rows.partial": json.dumps(bench_row(device_name="H200 | x")) + "\n"},
            "device_name is 'H200 | x', not a device's name",
        ),
        "penalty without recipe": (
            {"data-penalty.json": json.dumps({k: v for k, v in penalty_summary().items() if k != "recipe"})},
            "data-penalty.json is not a data-penalty summary as the reports read it (no recipe)",
        ),
        "penalty with a typed-in mean": (
            {"data-penalty.json": json.dumps({**penalty_summary(), "mean": 0.95})},
            "(mean is 0.95, but its 3 accuracies give 0.93013",
        ),
        "penalty naming another folder": (
            {"data-penalty.json": json.dumps({**penalty_summary(), "copy": "../x"})},
            "(copy '../x' cannot name a file)",
        ),
    }
    before = listing(outputs)
    for number, (name, (extras, message)) in enumerate(cases.items()):
        folder = tmp_path / f"case{number}"
        folder.mkdir()
        results_archive(folder / "results.tgz", whole)
        for file, text in extras.items():
            (folder / file).write_text(text)
        with pytest.raises(PipelineError, match=re.escape(message) + ".*nothing unpacked"):
            unpack(folder, log=lambda message: None)
        assert listing(outputs) == before, name  # nothing written: not the good run either
    assert not (tmp_path / "escaped.json").exists()


def test_every_penalty_that_unpack_accepts_the_report_reads(session, tmp_path, monkeypatch):
    """A summary without a field the report reads (report/analysis/penalty.py) is refused; one it accepts (here, one
    without its creation time) is read by the report as it was measured. Before, a summary without its recipe was
    unpacked, and every later report on that copy stopped with a KeyError."""
    from archcompare.errors import PipelineError
    from archcompare.pipeline.unpack import unpack
    from archcompare.report import data_penalty, load_runs
    from archcompare.report.analysis import penalty

    outputs = tmp_path / "outputs"
    runs = load_runs(outputs / "tiny")
    fingerprint = runs.complete[0].record.data.fingerprint
    monkeypatch.setattr(penalty, "KNOWN_COPIES", {fingerprint: "the tiny runs' images"})
    summary = penalty_summary(fingerprint)
    accepted = []
    for number, field in enumerate(summary):
        folder = tmp_path / f"case{number}"
        folder.mkdir()
        (folder / "data-penalty.json").write_text(json.dumps({k: v for k, v in summary.items() if k != field}))
        try:
            unpack(folder, log=lambda message: None)
        except PipelineError as error:
            assert f"(no {field})" in str(error)
            continue
        accepted.append(field)
        read = data_penalty(runs)
        assert read.measured and (read.low, read.measurement.mean, read.measurement.runs, read.measurement.recipe) == (
            summary["penalty"],
            summary["mean"],
            summary["n"],
            summary["recipe"],
        ), field
    assert accepted == ["created"]


def test_unpack_writes_only_its_runs_and_leaves_a_different_complete_run_alone_unless_asked(session, tmp_path):
    """...and replacing one removes what the run there left beside its files (REPLACE=1): a reused run's
    reused.json and a failed attempt's notebook would otherwise be reported as the new run's."""
    from archcompare.pipeline.unpack import unpack

    runs = tmp_path / "outputs" / "tiny" / "runs"
    mine = run_files(runs / "resnet50-seed0")
    summary = json.loads(mine["summary.json"])
    differs = {**summary, "test_acc": summary["test_acc"] / 2}
    members = seed2_members(runs)
    members |= {f"tiny/runs/resnet50-seed0/{name}": data for name, data in mine.items()}
    members["tiny/runs/resnet50-seed0/summary.json"] = json.dumps(differs).encode()
    folder = tmp_path / "back"
    folder.mkdir()
    results_archive(folder / "results.tgz", members)
    (runs / "resnet50-seed2").mkdir()
    (runs / "resnet50-seed2" / "notes.txt").write_text("mine")  # a file of the run folder not in the archive
    (runs / "resnet50-seed0" / "reused.json").write_text(json.dumps({"from": "outputs/full/runs/resnet50-seed0"}))
    (runs / "resnet50-seed0" / "train.failed.ipynb").write_text("{}")
    others = {path: path.read_bytes() for path in runs.rglob("*") if path.is_file()}
    said = []
    assert unpack(folder, log=said.append) == ["tiny"]
    assert json.loads((runs / "resnet50-seed2" / "summary.json").read_text())["seed"] == 2
    assert (runs / "resnet50-seed2" / "notes.txt").read_text() == "mine"  # not a file a run leaves: kept
    for path, data in others.items():
        assert path.read_bytes() == data, path  # the complete seed 0 too: it differs, and was left alone
    assert any(
        "resnet50-seed0: a different complete run is already there" in line and "REPLACE=1" in line for line in said
    )
    said.clear()
    unpack(folder, replace=True, log=said.append)
    seed0 = runs / "resnet50-seed0"
    assert json.loads((seed0 / "summary.json").read_text())["test_acc"] == differs["test_acc"]
    assert sorted(path.name for path in seed0.iterdir()) == sorted(mine)  # the archive's files, nothing left over
    assert any("resnet50-seed0: replacing the complete run there" in line for line in said)
    assert any(
        "resnet50-seed0: removed reused.json, train.failed.ipynb, left by the run that was there" in line
        for line in said
    )
    assert any("resnet50-seed2: already there, unchanged" in line for line in said)
    assert sorted(path.name for path in (tmp_path / "outputs").iterdir()) == ["tiny"]  # nothing beside the runs


def test_unpack_writes_a_run_only_while_no_other_process_is_in_it(session, tmp_path):
    from archcompare.pipeline.unpack import unpack

    runs = tmp_path / "outputs" / "tiny" / "runs"
    folder = tmp_path / "back"
    folder.mkdir()
    results_archive(folder / "results.tgz", seed2_members(runs))
    holder = hold(runs / "resnet50-seed2", seconds=2)  # as a make training that run here would
    started, said = time.monotonic(), []
    unpack(folder, log=said.append)
    assert time.monotonic() - started > 1.5, "the run was written while another process was in it"
    assert holder.wait(timeout=10) == 0
    assert (
        said[0] == f"tiny/resnet50-seed2: another process (pid {holder.pid}) is training it; waiting for it to finish"
    )
    _, device, records = session
    accuracy = records["resnet50-seed0"]["test_acc"]  # the archive's seed 2 holds seed 0's files
    assert said[1].endswith(f"resnet50-seed2: unpacked, test accuracy {accuracy:.2%} on {device}")


def test_bench_rows_merge_into_their_table_from_a_session(session, tmp_path):
    from archcompare.pipeline.unpack import unpack

    bench = tmp_path / "outputs" / "bench"
    bench.mkdir()
    shutil.copy(ROOT / "outputs" / "bench" / "bench-cuda.json", bench)
    folder = tmp_path / "back"
    folder.mkdir()
    rows = [bench_row(), bench_row(mode="cuda-graph", images_per_second=5000.0)]
    (folder / "bench-cuda.rows.partial").write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"cut')
    (folder / "gate.log").write_text("gate passed\n")
    said = []
    assert unpack(folder, log=said.append) == []
    assert json.loads((bench / "bench-cuda.json").read_text())["step_modes"] == rows
    assert (
        "| NVIDIA H200 | blog (fp32, batch 32, default layout) | fp32 | resnet50 | cuda-graph | 5000.0 |"
        in (bench / "bench-cuda.md").read_text()
    )
    assert (bench / "gate-cuda.log").read_text() == "gate passed\n"
    assert any(line.endswith("bench/bench-cuda.json and its .md: 2 step-mode row(s) merged") for line in said)


def test_a_gpu_session_rehearsed_on_the_cpu_start_collect_unpack(tmp_path):
    """The whole round on a tiny profile: start (the gate, here on a CPU test; the plan; the queue under setsid),
    collect (packs only complete runs), unpack (into outputs/, re-rendered, nothing trained)."""
    from conftest import make_imagefolder

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tiny.yaml").write_text(
        "architectures: [resnet18]\nseeds: [0]\n"
        "parameters: {epochs: 1, batch_size: 6, train_per_class: 0, test_per_class: 0, device: cpu, precision: fp32}\n"
    )
    make_imagefolder(tmp_path / "source" / "cifar10-jpeg", train_per_class=4, test_per_class=2, size=(8, 8))
    (tmp_path / "stage" / "wheels").mkdir(parents=True)
    subprocess.run(
        ["tar", "-C", tmp_path / "source", "-czf", tmp_path / "stage" / "cifar10-jpeg.tar.gz", "cifar10-jpeg"],
        check=True,
    )
    job, back = tmp_path / "job", tmp_path / "back"
    env = {
        "ARCHCOMPARE_PROFILES": str(profiles),
        "STAGE": str(tmp_path / "stage"),
        "DATA_ROOT": str(tmp_path / "data"),
        "JOB": str(job),
        "OUT": str(back),
        "SKIP_INSTALL": "1",  # this checkout's .venv is ready
        "PYTHON": sys.executable,  # the machine's Python with torch: it decodes the copy while pip would install
        "BUDGET": "900",
        "QUEUE": "tiny:resnet18-seed0",
        "GATE_TESTS": "tests/test_models.py::test_unknown_architecture_is_refused_with_the_choices",
    }
    readme = (ROOT / "README.md").read_bytes()
    started = session_script("start", env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "gate passed" in started.stdout and "start tiny:resnet18-seed0" in started.stdout
    assert "after" in started.stdout and "s of planning" in started.stdout
    run = job / "outputs" / "tiny" / "runs" / "resnet18-seed0"
    assert (run / "summary.json").exists() and not (run / "checkpoint.pt").exists()  # checkpoints off
    # collect, as the next call does: an incomplete run (no summary.json) is not packed.
    (job / "outputs" / "tiny" / "runs" / "resnet18-seed1").mkdir()
    (job / "outputs" / "tiny" / "runs" / "resnet18-seed1" / "history.csv").write_text("epoch\n")
    collected = session_script("collect", env=env)
    assert collected.returncode == 0 and "all done" in collected.stdout, collected.stdout + collected.stderr

    with tarfile.open(back / "results.tgz") as archive:
        assert sorted(archive.getnames()) == sorted(
            f"tiny/runs/resnet18-seed0/{name}"
            for name in ("history.csv", "predictions.npz", "summary.json", "train.ipynb")
        )
    assert (back / "gate.log").exists() and len(list(back.iterdir())) <= 8
    unpacked = session_script("unpack", str(back), env={**env, "ARCHCOMPARE_OUTPUTS": str(tmp_path / "outputs")})
    assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr
    home = tmp_path / "outputs" / "tiny"
    assert (home / "runs" / "resnet18-seed0" / "summary.json").read_bytes() == (run / "summary.json").read_bytes()
    assert (home / "report.html").exists() and "epoch" not in unpacked.stdout  # rendered, nothing trained
    assert (ROOT / "README.md").read_bytes() == readme  # outputs elsewhere: the README is left alone
