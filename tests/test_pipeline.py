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
SECTIONS = (
    "1. Headline",
    "2. Conclusions",
    "3. Training curves",
    "4. Per-class accuracy",
    "5. Setup",
    "6. Limitations",
)


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
        env={**os.environ, **(env or {})},
    )


def kill_group(process: subprocess.Popen, signum: int) -> str:
    os.killpg(process.pid, signum)
    output, _ = process.communicate(timeout=60)
    time.sleep(2)  # an orphaned kernel notices its parent is gone and exits
    return output


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
        "description: three deterministic epochs on the CPU\n"
        "architectures: [resnet18]\nseeds: [0]\n"
        "parameters: {epochs: 3, batch_size: 20, train_per_class: 0, test_per_class: 0, device: cpu,\n"
        "  precision: fp32, deterministic: true, schedule: cosine, lr: 0.05}\n"
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
    assert (tmp_path / "out" / name / "runs" / "resnet18-seed0" / "train.failed.ipynb").exists()


def broken_image_folder(root: Path) -> Path:
    folder = make_imagefolder(root, train_per_class=2, test_per_class=1)
    (folder / "train" / "red" / "broken.png").write_bytes(b"not an image")
    return folder


BAD_DATA = {
    "unknown profile": (["PROFILE=nope"], r"unknown profile 'nope': choose one of .*smoke"),
    "unknown scheme": (["PROFILE=smoke", "DATA=bogus:x"], r"dataset='bogus:x' is not allowed"),
    "missing folder": (["PROFILE=smoke", "DATA=imagefolder:/nonexistent"], r"'/nonexistent' does not exist"),
    "no test split": (["PROFILE=smoke", "DATA=imagefolder:{images}/train"], r"has no train/ folder"),
    "undecodable image": (["PROFILE=smoke", "DATA=imagefolder:{broken}"], r"cannot decode image .*broken\.png"),
    "cifar offline": (["PROFILE=smoke", "DATA=cifar10"], r"cifar10 is not in .*could not be downloaded.*imagefolder:"),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_fails_in_one_line(case, tmp_path, images, profiles):
    args, message = BAD_DATA[case]
    broken = broken_image_folder(tmp_path / "broken") if case == "undecodable image" else None
    args = [arg.format(images=images, broken=broken) for arg in args]
    # An unroutable proxy makes a CIFAR download fail at once, with or without a network.
    env = {
        "ARCHCOMPARE_PROFILES": str(profiles),
        "https_proxy": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    if case == "cifar offline":
        # data_dir is the repository's data/; the profile must not find a real copy there.
        if (ROOT / "data" / "cifar-10-batches-py").exists():
            pytest.skip("a CIFAR-10 copy is present in data/")
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
    kill_group(process, signal.SIGKILL)  # like a power cut: no chance to clean up
    assert not (run_dir / "summary.json").exists()
    finished_epochs = len(learning_history(run_dir))
    assert 1 <= finished_epochs < 3

    resumed = make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {finished_epochs}" in resumed.stdout
    assert learning_history(run_dir) == learning_history(
        outputs.parent / "whole" / "resumable" / "runs" / "resnet18-seed0"
    )


def test_sigterm_stops_cleanly_and_says_how_to_resume(tmp_path, slow_images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    outputs = tmp_path / "out"
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"
    process = start_make("runs", "PROFILE=resumable", f"DATA=imagefolder:{slow_images}", outputs=outputs, env=env)
    wait_for(run_dir / "checkpoint.pt", process)
    output = kill_group(process, signal.SIGTERM)
    assert process.returncode != 0
    assert "again resumes" in output and "Traceback" not in output
    assert not (run_dir / "summary.json").exists()
    assert (run_dir / "checkpoint.pt").exists()


def test_a_kernel_killed_mid_run_gives_one_line_and_keeps_the_checkpoint(tmp_path, slow_images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{slow_images}"
    outputs = tmp_path / "out"
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"
    process = start_make("runs", "PROFILE=resumable", data, outputs=outputs, env=env)
    wait_for(run_dir / "checkpoint.pt", process)
    # Only the kernel dies, as under the kernel's out-of-memory killer; make and papermill live on.
    # The kernel runs in a session of its own, as the child of papermill's process (`cli run`).
    runner = subprocess.run(
        ["pgrep", "-g", str(process.pid), "-f", "archcompare.cli run"], capture_output=True, text=True
    )
    kernels = [
        pid
        for parent in runner.stdout.split()
        for pid in subprocess.run(
            ["pgrep", "-P", parent, "-f", "ipykernel"], capture_output=True, text=True
        ).stdout.split()
    ]
    assert kernels, "no kernel process found under make's `cli run`"
    for pid in kernels:
        os.kill(int(pid), signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "error: run resnet18-seed0: its Jupyter kernel died" in output
    assert "Traceback" not in output, output
    assert not (run_dir / "summary.json").exists()
    assert (run_dir / "checkpoint.pt").exists()  # what the next make resumes from (the SIGKILL test checks that)


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
    again = make("report", "PROFILE=smoke", outputs=copy, env=env)
    assert again.returncode == 0 and "wrote" in again.stdout  # the stale report is not taken as fresh


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
