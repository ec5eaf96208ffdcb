"""Bad input through make: one line on stderr, a non-zero exit, no traceback, nothing that looks complete."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import make_imagefolder
from processes import make, plan

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
def test_bad_profiles_are_rejected_in_one_line(name, tmp_path, images):
    text, message = BAD_PROFILES[name]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / f"{name}.yaml").write_text(text)
    env = {"ARCHCOMPARE_PROFILES": str(tmp_path / "profiles")}
    planned = plan(name, tmp_path / "out", env, "--data", f"imagefolder:{images}")
    assert_clean_failure(planned, message, tmp_path)


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
    "missing folder": (
        ["PROFILE=smoke", "DATA=imagefolder:/nonexistent"],
        r"'/nonexistent' does not exist.*: pass the images as DATA=imagefolder:<path",
    ),
    # imagenet names data/imagenet, which most checkouts lack: the line says how to give the images.
    "profile's folder missing": (
        ["PROFILE=imagenet"],
        r"'data/imagenet' does not exist or is not a directory: pass the images as DATA=imagefolder:<path with train/",
    ),
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
    # Data that fails inside a run is read without Jupyter (RUNNER=python, faster); the notebook's way
    # of turning a run's error into one line is checked by the bad profiles that fail inside a run.
    done = make("report", *args, "RUNNER=python", outputs=tmp_path / "out", env=env)
    assert_clean_failure(done, message, tmp_path / "out")


def test_data_reaches_the_planner_as_typed_and_runs_nothing(tmp_path, images, profiles):
    """DATA is a path, which may hold spaces and quotes; on the old Makefile a quote ended make's quoting."""
    odd = tmp_path / 'it\'s a "copy" with $HOME'
    shutil.copytree(images, odd)
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    # LONG=1: no timing probe, so planning stays torch-free and takes a second.
    done = make("plan", "PROFILE=smoke", f"DATA=imagefolder:{odd}", "LONG=1", outputs=tmp_path / "out", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "smoke" / ".data").read_text().strip() == f"imagefolder:{odd}"
    injected = tmp_path / "injected"
    for data in (f"imagefolder:{tmp_path}/x';touch {injected};'", f"imagefolder:$(shell touch {injected})"):
        done = make("plan", "PROFILE=smoke", f"DATA={data}", "LONG=1", outputs=tmp_path / "out", env=env)
        path = data.partition(":")[2]
        assert_clean_failure(done, rf"imagefolder path {re.escape(repr(path))} does not exist", tmp_path / "out")
        assert not injected.exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_penalty_takes_its_number_of_runs_from_runs_only(tmp_path, images):
    """On the old Makefile RUNS also held the default profile's planned runs, so `make penalty` passed their names."""
    (tmp_path / "quick").mkdir()
    (tmp_path / "quick" / "runs.txt").write_text("resnet50-seed0\nresnext50_32x4d-seed0\n")
    done = make("penalty", f"DATA=imagefolder:{images}", outputs=tmp_path)
    assert_clean_failure(done, r"airbench94, which needs a CUDA GPU; none is here", tmp_path)


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
