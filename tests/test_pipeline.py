"""The product as people use it: `make report` and `make runs` on generated data, into a temporary
outputs directory. Covers the smoke report end to end, retraining only what changed, bad input
through make, kill-and-resume, an interrupted report build, and `make -j2`."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import make_imagefolder

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Headline", "Conclusions", "Training curves", "Per-class accuracy", "Setup", "Limitations")


def make(*args: str, outputs: Path, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args, f"OUTPUTS={outputs}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_make(*args: str, outputs: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(ROOT), *args, f"OUTPUTS={outputs}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so the test can kill all of it
        # Ctrl-C reaches a foreground command with SIGINT's default action; a suite started in the
        # background (`make test &`) inherits SIGINT ignored, which would make the Ctrl-C test meaningless.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, **(env or {})},
    )


def kernel_pids(process: subprocess.Popen) -> list[int]:
    """The Jupyter kernels of a make started by start_make: children of its `archcompare.cli run` processes.

    A kernel runs in a session of its own, so signalling make's process group does not reach it.
    """
    runners = subprocess.run(
        ["pgrep", "-g", str(process.pid), "-f", "archcompare.cli run"], capture_output=True, text=True
    )
    return [
        int(pid)
        for parent in runners.stdout.split()
        for pid in subprocess.run(
            ["pgrep", "-P", parent, "-f", "ipykernel"], capture_output=True, text=True
        ).stdout.split()
    ]


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, f"process {pid} still runs {timeout}s after it was stopped"
            time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


def kill_group(process: subprocess.Popen, signum: int, kernels: str = "kill") -> str:
    """Signal make's process group; ``kernels="kill"`` also SIGKILLs its kernels, as a power cut would.

    Waits, with a deadline, until make has ended and the kernels are gone, so nothing trains on.
    """
    pids = kernel_pids(process)
    os.killpg(process.pid, signum)
    if kernels == "kill":
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=60)
    wait_gone(pids)
    return output


def finished_epochs(run_dir: Path) -> int:
    """The last epoch the checkpoint holds: what a resume continues from."""
    import torch

    return torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)["epoch"]


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"make ended before {path} appeared:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout}s"
        time.sleep(0.2)


def learning_history(run_dir: Path) -> list[dict]:
    columns = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc")
    with open(run_dir / "history.csv") as f:
        return [{k: row[k] for k in columns} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_imagefolder(tmp_path_factory.mktemp("pipeline-images"), train_per_class=8, test_per_class=4)


@pytest.fixture(scope="module")
def slow_images(tmp_path_factory) -> Path:
    """Large enough that an epoch takes seconds, so a test can kill a run between epochs."""
    return make_imagefolder(tmp_path_factory.mktemp("slow-images"), train_per_class=40, test_per_class=4, size=(32, 32))


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    """The shipped profiles plus the ones these tests need."""
    directory = tmp_path_factory.mktemp("profiles")
    for path in (ROOT / "notebooks" / "profiles").glob("*.yaml"):
        shutil.copy(path, directory)
    (directory / "resumable.yaml").write_text(
        "description: four deterministic epochs on the CPU\n"
        "architectures: [resnet18]\nseeds: [0]\n"
        "parameters: {epochs: 4, batch_size: 20, train_per_class: 0, test_per_class: 0, device: cpu,\n"
        "  precision: fp32, deterministic: true, schedule: cosine, lr: 0.05}\n"
    )
    (directory / "pair.yaml").write_text(
        "description: two quick runs of a small model\n"
        "architectures: [resnet18]\nseeds: [0, 1]\n"
        "parameters: {epochs: 1, batch_size: 8, train_per_class: 0, test_per_class: 0, device: cpu, precision: fp32}\n"
    )
    return directory


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, images, profiles):
    """`make -j2 report PROFILE=smoke` once, for the tests that read its results."""
    outputs = tmp_path_factory.mktemp("outputs")
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    done = make("-j2", "report", "PROFILE=smoke", f"DATA=imagefolder:{images}", outputs=outputs, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return outputs, env, done


def test_make_shows_each_runs_epochs_on_the_terminal_without_notebook_chatter(smoke):
    _, _, done = smoke
    for arch in ("resnet50", "resnext50_32x4d"):
        assert f"{arch}, seed 0: test accuracy" in done.stdout
    assert "epoch   1/1" in done.stdout
    assert "<Figure size" not in done.stdout and "Executing" not in done.stdout


def test_smoke_report_is_complete_self_contained_and_codeless(smoke):
    outputs, _, _ = smoke
    html = (outputs / "smoke" / "report.html").read_text()
    for arch in ("resnet50", "resnext50_32x4d"):
        assert arch in html
    for section in SECTIONS:
        assert section in html, section
    assert html.count("data:image/png;base64") >= 4  # plots embedded, not linked
    code_cells = re.findall(r'<div class="jp-Cell jp-CodeCell[^"]*"', html)
    assert code_cells and all("jp-mod-noInput" in cell for cell in code_cells)  # no cell shows its input
    assert 'class="highlight' not in html and "load_runs(" not in html  # no code shown
    assert '<script src="http' not in html  # nothing fetched from the network


def test_parallel_runs_are_complete_and_consistent(smoke):
    outputs, _, _ = smoke
    runs = outputs / "smoke" / "runs"
    for name in ("resnet50-seed0", "resnext50_32x4d-seed0"):
        directory = runs / name
        for artifact in ("train.ipynb", "history.csv", "summary.json", "predictions.npz"):
            assert (directory / artifact).exists(), f"{name}/{artifact}"
        summary = json.loads((directory / "summary.json").read_text())
        assert f"{summary['arch']}-seed{summary['seed']}" == name
        assert Path(summary["config"]["output_dir"]).name == name
        assert len(learning_history(directory)) == summary["epochs"] == summary["config"]["epochs"]
        assert not list(directory.glob("*.partial*"))


def test_make_j2_trains_the_runs_side_by_side(smoke):
    outputs, _, _ = smoke
    spans = []
    for path in sorted((outputs / "smoke" / "runs").glob("*/summary.json")):
        env = json.loads(path.read_text())["env"]
        spans.append((env["started"], env["finished"]))
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b and start_b < end_a, spans  # the two runs' lifetimes overlap


def test_second_report_retrains_nothing(smoke, images):
    outputs, env, _ = smoke
    summaries = sorted((outputs / "smoke" / "runs").glob("*/summary.json"))
    before = {path: path.stat().st_mtime_ns for path in summaries}
    again = make("report", "PROFILE=smoke", outputs=outputs, env=env)  # DATA is remembered
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("up to date") == 3  # two runs and the report
    assert "epoch" not in again.stdout
    assert {path: path.stat().st_mtime_ns for path in summaries} == before


def test_changed_data_marks_runs_out_of_date(smoke, tmp_path):
    outputs, env, _ = smoke
    other = make_imagefolder(tmp_path / "other", train_per_class=8, test_per_class=4, seed=1)
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    planned = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "archcompare.cli", "plan", "smoke", "--data", f"imagefolder:{other}"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ARCHCOMPARE_OUTPUTS": str(copy)},
    )
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("settings changed (dataset)") == 2
    assert not list((copy / "smoke" / "runs").glob("*/summary.json"))  # Make will retrain both


# --- bad input: one line, non-zero exit, no traceback, nothing that looks complete ---

BAD_PROFILES = {
    "broken-yaml": ("architectures: [resnet50\n", r"not valid YAML"),
    "unknown-key": ("architectures: [resnet50]\nseeds: [0]\nmodels: [x]\n", r"unknown key 'models'"),
    "unknown-parameter": (
        "architectures: [resnet50]\nseeds: [0]\nparameters: {learning_rate: 0.1}\n",
        r"unknown parameter 'learning_rate'",
    ),
    "unknown-arch": ("architectures: [resnet51]\nseeds: [0]\n", r"arch='resnet51' is not allowed"),
    "unknown-recipe": ("architectures: [resnet18]\nseeds: [0]\nparameters: {recipe: cutout}\n", r"recipe='cutout'"),
    "unknown-optimizer": (
        "architectures: [resnet18]\nseeds: [0]\nparameters: {optimizer: lamb}\n",
        r"optimizer='lamb'",
    ),
    "unknown-schedule": (
        "architectures: [resnet18]\nseeds: [0]\nparameters: {schedule: cyclic}\n",
        r"schedule='cyclic'",
    ),
    "unknown-precision": (
        "architectures: [resnet18]\nseeds: [0]\nparameters: {precision: int8}\n",
        r"precision='int8'",
    ),
    "zero-epochs": ("architectures: [resnet18]\nseeds: [0]\nparameters: {epochs: 0}\n", r"epochs=0 .*positive"),
    "zero-batch": ("architectures: [resnet18]\nseeds: [0]\nparameters: {batch_size: 0}\n", r"batch_size=0 .*positive"),
    "negative-lr": ("architectures: [resnet18]\nseeds: [0]\nparameters: {lr: -0.1}\n", r"lr=-0.1 .*positive"),
    "subset-too-large": (
        "architectures: [resnet18]\nseeds: [0]\nparameters: {train_per_class: 1000, epochs: 1}\n",
        r"train_per_class=1000 is more than the data has",
    ),
    "cuda": (
        "architectures: [resnet18]\nseeds: [0]\nparameters: {device: cuda, epochs: 1}\n",
        r"device='cuda'.*no CUDA GPU",
    ),
}


def assert_clean_failure(done: subprocess.CompletedProcess, message: str, outputs: Path) -> None:
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert re.search(message, errors[0]), errors[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert not list(outputs.rglob("summary.json")) and not list(outputs.rglob("report.html"))


# Rejected by the plan, before any run starts: checked through the CLI that make calls.
PLAN_ERRORS = [name for name in BAD_PROFILES if name not in ("subset-too-large", "cuda")]


@pytest.mark.parametrize("name", PLAN_ERRORS)
def test_bad_profiles_are_rejected_in_one_line(name, tmp_path, images, monkeypatch, capsys):
    from archcompare import cli

    text, message = BAD_PROFILES[name]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("ARCHCOMPARE_PROFILES", str(tmp_path / "profiles"))
    monkeypatch.setenv("ARCHCOMPARE_OUTPUTS", str(tmp_path / "out"))
    status = cli.main(["plan", name, "--data", f"imagefolder:{images}"])
    captured = capsys.readouterr()
    assert_clean_failure(subprocess.CompletedProcess([], status, captured.out, captured.err), message, tmp_path)


@pytest.mark.parametrize("name", ["subset-too-large", "cuda"])
def test_bad_profiles_that_fail_inside_a_run_fail_in_one_line(name, tmp_path, images):
    if name == "cuda" and __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    text, message = BAD_PROFILES[name]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / f"{name}.yaml").write_text(text)
    env = {"ARCHCOMPARE_PROFILES": str(tmp_path / "profiles")}
    done = make("report", f"PROFILE={name}", f"DATA=imagefolder:{images}", outputs=tmp_path / "out", env=env)
    assert_clean_failure(done, message, tmp_path / "out")
    failed = json.loads((tmp_path / "out" / name / "runs" / "resnet18-seed0" / "train.failed.ipynb").read_text())
    errors = [o for c in failed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["traceback"]  # the README: the traceback is kept in train.failed.ipynb


def broken_image_folder(root: Path) -> Path:
    folder = make_imagefolder(root, train_per_class=2, test_per_class=1)
    (folder / "train" / "red" / "broken.png").write_bytes(b"not an image")
    return folder


BAD_DATA = {
    "unknown profile": (["PROFILE=nope"], r"unknown profile 'nope': choose one of .*smoke"),
    "unknown scheme": (["PROFILE=smoke", "DATA=bogus:x"], r"dataset='bogus:x' is not allowed"),
    "missing folder": (["PROFILE=smoke", "DATA=imagefolder:/nonexistent"], r"'/nonexistent' does not exist"),
    "no train split": (["PROFILE=smoke", "DATA=imagefolder:{images}/train"], r"has no train/ folder"),
    "no test split": (["PROFILE=smoke", "DATA=imagefolder:{train_only}"], r"has no test/ folder"),
    "undecodable image": (["PROFILE=smoke", "DATA=imagefolder:{broken}"], r"cannot decode image .*broken\.png"),
    "cifar offline": (["PROFILE=smoke", "DATA=cifar10"], r"cifar10 is not in .*forbids downloading it.*imagefolder:"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_fails_in_one_line(case, tmp_path, images, profiles):
    args, message = BAD_DATA[case]
    broken = broken_image_folder(tmp_path / "broken") if case == "undecodable image" else None
    train_only = tmp_path / "train-only"
    if case == "no test split":
        shutil.copytree(images / "train", train_only / "train")
    args = [arg.format(images=images, broken=broken, train_only=train_only) for arg in args]
    # The suite runs with ARCHCOMPARE_OFFLINE=1 and a temporary ARCHCOMPARE_DATA_DIR (conftest):
    # a CIFAR download fails at once and nothing lands in the repository's data/.
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    done = make("report", *args, outputs=tmp_path / "out", env=env)
    assert_clean_failure(done, message, tmp_path / "out")


def test_unwritable_outputs_fail_in_one_line(tmp_path, images, profiles):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = make(
        "report",
        "PROFILE=smoke",
        f"DATA=imagefolder:{images}",
        outputs=blocker / "out",
        env={"ARCHCOMPARE_PROFILES": str(profiles)},
    )
    assert_clean_failure(done, r"cannot write the outputs of 'smoke'", tmp_path)


def test_clean_needs_an_explicit_profile(tmp_path):
    done = make("clean", outputs=tmp_path)
    assert done.returncode != 0 and "name the profile" in done.stderr


# --- interruption ---


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, slow_images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{slow_images}"
    whole = make("runs", "PROFILE=resumable", data, outputs=tmp_path / "whole", env=env)
    assert whole.returncode == 0, whole.stdout + whole.stderr

    outputs = tmp_path / "killed"
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"
    process = start_make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    wait_for(run_dir / "checkpoint.pt", process)
    kill_group(process, signal.SIGKILL)  # like a power cut: make and its kernel, no chance to clean up
    assert not (run_dir / "summary.json").exists()
    done = finished_epochs(run_dir)
    assert 1 <= done < 4

    resumed = make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout
    assert learning_history(run_dir) == learning_history(
        outputs.parent / "whole" / "resumable" / "runs" / "resnet18-seed0"
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_make_stops_training_says_how_to_resume_and_resumes(tmp_path, slow_images, profiles, signum):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{slow_images}"
    outputs = tmp_path / "out"
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"
    process = start_make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    wait_for(run_dir / "checkpoint.pt", process)
    kernels = kernel_pids(process)
    assert kernels
    output = kill_group(process, signum, kernels="leave")  # Ctrl-C reaches make's group; the kernel is stopped by it
    assert process.returncode != 0
    assert "error: interrupted; finished epochs are checkpointed" in output and "Traceback" not in output
    assert "kernel died" not in output
    wait_gone(kernels)  # training stopped: the kernel is gone, not training on unseen
    done = finished_epochs(run_dir)
    time.sleep(1)
    assert finished_epochs(run_dir) == done and not (run_dir / "summary.json").exists()
    resumed = make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout


def test_a_kernel_killed_mid_run_gives_one_line_and_keeps_the_checkpoint(tmp_path, slow_images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{slow_images}"
    outputs = tmp_path / "out"
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"
    process = start_make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    wait_for(run_dir / "checkpoint.pt", process)
    # Only the kernel dies, as under the kernel's out-of-memory killer; make and papermill live on.
    # The kernel runs in a session of its own, as the child of papermill's process (`cli run`).
    kernels = kernel_pids(process)
    assert kernels, "no kernel process found under make's `cli run`"
    for pid in kernels:
        os.kill(pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "error: run resnet18-seed0: its Jupyter kernel died" in output
    assert "Traceback" not in output, output
    assert not (run_dir / "summary.json").exists()
    wait_gone(kernels)
    done = finished_epochs(run_dir)
    resumed = make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)  # the README's advice
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout


def test_interrupted_report_build_leaves_no_report_that_looks_fresh(smoke, tmp_path):
    outputs, env, _ = smoke
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    report = copy / "smoke" / "report.html"
    old = report.read_text()
    (copy / "smoke" / "runs" / "resnet50-seed0" / "history.csv").write_text(
        (copy / "smoke" / "runs" / "resnet50-seed0" / "history.csv").read_text() + "\n"
    )  # an input changed: the report is out of date
    process = start_make("report", "PROFILE=smoke", outputs=copy, env=env)
    wait_for(copy / "smoke" / ".compare.partial.ipynb", process, timeout=120)
    kill_group(process, signal.SIGKILL)
    assert report.read_text() == old  # never half-written
    inode = report.stat().st_ino
    again = make("report", "PROFILE=smoke", outputs=copy, env=env)
    assert again.returncode == 0 and "wrote" in again.stdout  # the stale report is not taken as fresh
    # Written to a new file and renamed over the old one, never rewritten in place (same inode).
    assert report.stat().st_ino != inode and not list((copy / "smoke").glob(".*.partial"))


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


# --- what a plan decides: kept, reused, retrained, stopped ---


def plan(profile: str, outputs: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "archcompare.cli", "plan", profile, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ARCHCOMPARE_OUTPUTS": str(outputs)},
    )


def copy_outputs(smoke, tmp_path) -> Path:
    outputs, _, _ = smoke
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    return copy


def test_runs_of_older_training_code_are_kept_unless_retrain_is_asked(smoke, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    summary_path = copy / "smoke" / "runs" / "resnet50-seed0" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["env"]["code_fingerprint"] = "0123456789abcdef"  # as if the training code changed since
    summary_path.write_text(json.dumps(summary))
    kept = plan("smoke", copy, env)
    assert kept.returncode == 0, kept.stderr
    assert (
        "resnet50-seed0: kept, trained by an older version of the training code (fingerprint 0123456789abcdef"
        in kept.stdout
    )
    assert summary_path.exists()  # not retrained by accident
    retrain = plan("smoke", copy, env, "--retrain", "1")
    assert (
        "resnet50-seed0: trained by an older version" in retrain.stdout and "RETRAIN=1, will retrain" in retrain.stdout
    )
    assert not summary_path.exists()


def test_the_same_images_at_another_path_do_not_retrain(smoke, images, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    moved = tmp_path / "moved-images"
    shutil.copytree(images, moved)
    planned = plan("smoke", copy, env, "--data", f"imagefolder:{moved}")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("up to date") == 2, planned.stdout


def test_an_identical_run_of_another_profile_is_reused_not_trained(smoke, profiles, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    mine = tmp_path / "profiles"
    shutil.copytree(profiles, mine)
    (mine / "smoke-again.yaml").write_text((profiles / "smoke.yaml").read_text())
    env = {**env, "ARCHCOMPARE_PROFILES": str(mine)}
    planned = plan("smoke-again", copy, env, "--data", json.loads((copy / "smoke" / "plan.json").read_text())["data"])
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("reused instead of trained") == 2, planned.stdout
    reused = copy / "smoke-again" / "runs" / "resnet50-seed0"
    assert json.loads((reused / "reused.json").read_text())["run"] == "resnet50-seed0"
    assert (reused / "summary.json").read_bytes() == (
        copy / "smoke" / "runs" / "resnet50-seed0" / "summary.json"
    ).read_bytes()


def test_missing_runs_that_would_take_too_long_are_not_trained_without_long(smoke, tmp_path, images):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    shutil.rmtree(copy / "smoke" / "runs" / "resnext50_32x4d-seed0")
    runs_file = tmp_path / "runs.txt"
    slow = {**env, "ARCHCOMPARE_LONG_SECONDS": "0.001"}  # as if this machine were far too slow
    stopped = plan("smoke", copy, slow, "--runs-file", str(runs_file))
    assert stopped.returncode == 0, stopped.stderr
    assert re.search(
        r"not training 1 run\(s\) \(resnext50_32x4d-seed0\): they would take about .* on this machine", stopped.stdout
    )
    assert "LONG=1" in stopped.stdout
    assert runs_file.read_text().split() == ["resnet50-seed0"]  # make renders from the run that exists
    go_on = plan("smoke", copy, slow, "--runs-file", str(runs_file), "--long", "1")
    assert (
        runs_file.read_text().split() == ["resnet50-seed0", "resnext50_32x4d-seed0"]
        and "not training" not in go_on.stdout
    )


def test_a_damaged_checkpoint_is_named_through_make_and_its_rm_command_restarts_the_run(tmp_path, images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    outputs = tmp_path / "out"
    planned = plan("pair", outputs, env, "--data", f"imagefolder:{images}")
    assert planned.returncode == 0, planned.stderr
    checkpoint = outputs / "pair" / "runs" / "resnet18-seed0" / "checkpoint.pt"
    checkpoint.write_bytes(b"half a checkpoint")
    done = make("PROFILE=pair", str(checkpoint.parent / "summary.json"), outputs=outputs, env=env)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode != 0 and len(errors) == 1 and "Traceback" not in done.stderr
    command = re.search(r"(rm \S+checkpoint\.pt)", errors[0])
    assert "is damaged" in errors[0] and command, errors[0]
    subprocess.run(command.group(1), shell=True, check=True)  # the README: the message gives the rm command
    again = make("PROFILE=pair", str(checkpoint.parent / "summary.json"), outputs=outputs, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (checkpoint.parent / "summary.json").exists()


def test_make_report_warns_of_an_incomplete_run_then_finishes_it(smoke, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    run = copy / "smoke" / "runs" / "resnext50_32x4d-seed0"
    (run / "summary.json").unlink()
    rendered = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "archcompare.cli", "render", "smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ARCHCOMPARE_OUTPUTS": str(copy)},
    )
    assert rendered.returncode == 0, rendered.stderr
    html = (copy / "smoke" / "report.html").read_text()
    assert "not every expected run is complete" in html and "resnext50_32x4d-seed0" in html
    finished = make("report", "PROFILE=smoke", outputs=copy, env=env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "resnext50_32x4d, seed 0: test accuracy" in finished.stdout  # trained again
    assert "not every expected run is complete" not in (copy / "smoke" / "report.html").read_text()


def test_make_bench_writes_a_table_per_device(tmp_path):
    done = make("bench", "QUICK=1", outputs=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "bench" / "bench-cpu.md").read_text()
    result = json.loads((tmp_path / "bench" / "bench-cpu.json").read_text())
    assert set(result["architectures"]) == {"resnet50", "resnext50_32x4d"}
    for arch, row in result["architectures"].items():
        assert f"| {arch} |" in table
        assert row["blog_loop"] > 0 and row["project_loop"] > 0 and row["bare_model"] > 0
        assert row["speedup"] == pytest.approx(row["project_loop"] / row["blog_loop"])
    assert "blog loop, batch 32 (img/s)" in table and "of matmul peak" in table


def test_train_notebook_runs_by_hand_from_notebooks_with_its_relative_paths(tmp_path, images):
    import papermill

    defaults = json.loads((ROOT / "notebooks" / "train.ipynb").read_text())
    assert any("../outputs/notebook/" in "".join(cell["source"]) for cell in defaults["cells"])
    output_dir = tmp_path / "notebook-run"  # relative paths are resolved from notebooks/, as in JupyterLab
    relative = os.path.relpath(output_dir, ROOT / "notebooks")
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "train.ipynb"),
        str(tmp_path / "executed.ipynb"),
        parameters=dict(
            dataset=f"imagefolder:{images}",
            arch="resnet18",
            epochs=1,
            train_per_class=4,
            test_per_class=2,
            output_dir=relative,
            data_dir=os.path.relpath(tmp_path / "data", ROOT / "notebooks"),
        ),
        kernel_name="archcompare",
        cwd=str(ROOT / "notebooks"),
        progress_bar=False,
    )
    summary = json.loads((output_dir / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["config"]["output_dir"] == relative


def test_editing_report_code_rerenders_and_editing_training_code_keeps_the_runs(smoke, tmp_path):
    """In a copy of the repository: what each kind of edit makes `make report` do, on the smoke runs."""
    outputs, env, _ = smoke
    repo = tmp_path / "repo"
    for name in ("lib", "notebooks", "tools"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("Makefile", "pyproject.toml", "requirements.txt", "requirements-lab.txt"):
        shutil.copy2(ROOT / name, repo / name)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    copy = repo / "outputs"
    shutil.copytree(outputs, copy)
    env = {**env, "PYTHONPATH": str(repo / "lib")}  # the copy's package, in make and in the kernel

    def report() -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(repo), "-o", ".venv/.installed", "report", "PROFILE=smoke"],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, **env},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    text = repo / "lib" / "archcompare" / "report" / "text.py"
    text.write_text(text.read_text() + "\n# an edit\n")
    edited = report()
    assert "wrote outputs/smoke/report.html" in edited.stdout and "epoch" not in edited.stdout
    training = repo / "lib" / "archcompare" / "training.py"
    training.write_text(training.read_text() + "\n# a change of the training code\n")
    kept = report()
    assert kept.stdout.count("kept, trained by an older version of the training code") == 2
    assert "epoch" not in kept.stdout  # nothing retrained
    assert "Trained by an older version of the training code" in (copy / "smoke" / "report.html").read_text()


# --- scale-out: GPUs of one machine, cluster job arrays, training without Jupyter ---


def spans(outputs: Path, profile: str) -> dict[str, tuple[str, str, str]]:
    result = {}
    for path in sorted((outputs / profile / "runs").glob("*/summary.json")):
        env = json.loads(path.read_text())["env"]
        result[path.parent.name] = (env["started"], env["finished"], env["cuda_visible_devices"])
    return result


def test_gpus_pins_each_concurrent_run_to_its_own_id(tmp_path, images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{images}"
    two = make("-j2", "runs", "PROFILE=pair", data, "GPUS=gpu-a,gpu-b", outputs=tmp_path / "two", env=env)
    assert two.returncode == 0, two.stdout + two.stderr
    (a_start, a_end, a_gpu), (b_start, b_end, b_gpu) = spans(tmp_path / "two", "pair").values()
    assert {a_gpu, b_gpu} == {"gpu-a", "gpu-b"}  # each kernel saw its own id, recorded in provenance
    one = make("-j2", "runs", "PROFILE=pair", data, "GPUS=gpu-a", outputs=tmp_path / "one", env=env)
    assert one.returncode == 0, one.stdout + one.stderr
    (a_start, a_end, a_gpu), (b_start, b_end, b_gpu) = spans(tmp_path / "one", "pair").values()
    assert a_gpu == b_gpu == "gpu-a"
    assert a_end <= b_start or b_end <= a_start  # one id: the second run waited for the first


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
    rendered = make("report", "PROFILE=pair", outputs=outputs, env=env)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    assert rendered.stdout.count("up to date") == 2 and "epoch" not in rendered.stdout  # nothing retrained
    assert "archcompare.cli train (no notebook)" in (outputs / "pair" / "report.html").read_text()
    beyond = subprocess.run(
        ["bash", str(ROOT / "tools" / "slurm_runs.sh"), "pair"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "SLURM_ARRAY_TASK_ID": "5", "OUTPUTS": str(outputs)},
    )
    assert beyond.returncode == 2 and "has no run in" in beyond.stderr
