"""What make takes from the command line: `make clean` removes one profile's outputs and nothing else, and
every target refuses a bad PROFILE or OUTPUTS in one line before running anything.

On the Makefile before these checks, `make clean PROFILE=..` was `rm -rf outputs/..`: a profile's parent
folder. So each test runs a copy of the Makefile in a sandbox folder inside another folder that holds a
sentinel file, and compares the listing of both, recursively, before and after. Nothing here needs
torch: the checks run in make and the shell (one test also asks the planner, which loads no torch).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from processes import ROOT

from archcompare.errors import PipelineError
from archcompare.paths import RESERVED_OUTPUT_FOLDERS
from archcompare.pipeline.profiles import load_profile

OUTPUTS = "published"  # not make's default, so that the tests show OUTPUTS is honoured
PROFILES = ("quick", "smoke", "linked")  # linked: its outputs folder is a symbolic link out of OUTPUTS
# make's own closing line after the one `error:` line: a refused value, or a recipe's exit status.
MAKE_NOTICE = re.compile(r"^(Makefile:\d+: \*\*\* refused: see the line above\.  Stop\.|make: \*\*\* \[.*\] Error 2)$")
# The variables of the environment that would reach these makes from outside (a `make test` started
# with PROFILE=..., an exported OUTPUTS): each test says what it gives.
OUTSIDE = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PROFILE", "DATA", "OUTPUTS", "ARCHCOMPARE_PROFILES")


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """tmp_path/{sentinel, elsewhere/keep, box/}: box holds the Makefile, profiles and their outputs."""
    (tmp_path / "sentinel").write_text("must survive\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep").write_text("not an output\n")
    box = tmp_path / "box"
    box.mkdir()
    shutil.copy(ROOT / "Makefile", box)
    for folder, names in (("notebooks/profiles", PROFILES), ("other-profiles", ("custom",))):
        (box / folder).mkdir(parents=True)
        for name in names:
            (box / folder / f"{name}.yaml").write_text("architectures: [resnet18]\nseeds: [0]\n")
    for name in ("quick", "smoke", "custom"):
        run = box / OUTPUTS / name / "runs" / "resnet18-seed0"
        run.mkdir(parents=True)
        (run / "summary.json").write_text("{}\n")
        (box / OUTPUTS / name / "report.html").write_text("<html></html>\n")
    (box / OUTPUTS / "linked").symlink_to(tmp_path / "elsewhere")
    # What the install targets would build from: present and older than their stamps, so that no
    # target tries to create .venv (make -n still shows the commands a target would run).
    for name in ("requirements.txt", "requirements-lab.txt", "pyproject.toml", "tools/install.py"):
        (box / name).parent.mkdir(exist_ok=True)
        (box / name).write_text("")
    (box / ".venv").mkdir()
    for stamp in (".installed", ".lab-installed"):
        (box / ".venv" / stamp).write_text("")
        os.utime(box / ".venv" / stamp, (2e9, 2e9))
    return box


def run_make(box: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key not in OUTSIDE}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(box), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**environment, **(env or {})},
    )


def listing(root: Path) -> list[str]:
    """Every entry under root, recursively, with each symbolic link's target (links are not followed)."""
    entries = []
    for folder, directories, files in os.walk(root):
        for name in sorted(directories + files):
            path = Path(folder) / name
            entries.append(
                f"{path.relative_to(root)} -> {os.readlink(path)}" if path.is_symlink() else str(path.relative_to(root))
            )
    return sorted(entries)


def assert_refused(done: subprocess.CompletedProcess, message: str = "") -> str:
    """Non-zero, and one line on stderr besides make's own closing notice: an `error:` line."""
    assert done.returncode != 0, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if not MAKE_NOTICE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert re.search(message, lines[0]), lines[0]
    return lines[0]


# What a user might type, and what a typo or an unset shell variable gives. On the old Makefile, '' and
# '$(rm -rf x)' (make expands it to nothing) removed all of OUTPUTS, '..' and '../published' the
# sandbox, 'linked' the link, and the `touch` values ran while make read the Makefile.
BAD_PROFILES = {
    "empty": ("", r"PROFILE is empty"),
    "parent": ("..", r"PROFILE='\.\.' is not a profile name"),
    "itself": (".", r"PROFILE='\.' is not a profile name"),
    "hidden": (".quick", r"not a profile name"),
    "a path up": (f"../{OUTPUTS}", r"not a profile name"),
    "a path down": ("quick/runs", r"not a profile name"),
    "root": ("/", r"not a profile name"),
    "a space": ("q uick", r"PROFILE='q uick' is not a profile name"),
    "a trailing space": ("quick ", r"not a profile name"),
    "a quote": ("x'y", r"PROFILE='x'y' is not a profile name"),
    "a double quote": ('x"y', r"not a profile name"),
    "a glob": ("*", r"not a profile name"),
    "a make expansion": ("$(rm -rf {parent})", r"PROFILE='\$\(rm -rf .*\)' is not a profile name"),
    "make's shell": ("$(shell touch {parent}/injected)", r"not a profile name"),
    "a backtick": ("`touch {parent}/injected`", r"not a profile name"),
    "a semicolon": ("x;touch {parent}/injected;", r"not a profile name"),
    "a quote and a command": ("x';touch {parent}/injected;'", r"not a profile name"),
    "unknown": ("nonexistent", r"unknown profile 'nonexistent': choose one of linked, quick, smoke"),
    "a symbolic link out of OUTPUTS": ("linked", r"published/linked is a symbolic link .*not removing"),
}


@pytest.mark.parametrize("case", BAD_PROFILES)
def test_clean_refuses_a_bad_profile_in_one_line_and_removes_nothing(sandbox, case):
    value, message = BAD_PROFILES[case]
    before = listing(sandbox.parent)
    done = run_make(sandbox, "clean", f"PROFILE={value.format(parent=sandbox.parent)}", f"OUTPUTS={OUTPUTS}")
    assert_refused(done, message)
    assert listing(sandbox.parent) == before


@pytest.mark.parametrize("how", ["not given", "only in the environment", "known only in the profiles folder not used"])
def test_clean_needs_a_profile_named_on_the_command_line_and_in_the_profiles_folder_used(sandbox, how):
    before = listing(sandbox.parent)
    if how == "not given":  # make's default PROFILE (quick) is never removed unasked
        done = run_make(sandbox, "clean", f"OUTPUTS={OUTPUTS}")
        assert_refused(done, r"name the profile whose outputs to remove")
    elif how == "only in the environment":  # an `export PROFILE=full` of another day
        done = run_make(sandbox, "clean", f"OUTPUTS={OUTPUTS}", env={"PROFILE": "smoke"})
        assert_refused(done, r"name the profile whose outputs to remove")
    else:
        done = run_make(
            sandbox, "clean", "PROFILE=smoke", f"OUTPUTS={OUTPUTS}", env={"ARCHCOMPARE_PROFILES": "other-profiles"}
        )
        assert_refused(done, r"unknown profile 'smoke': choose one of custom \(files in other-profiles\)")
    assert listing(sandbox.parent) == before


@pytest.mark.parametrize("profile, folder", [("smoke", None), ("custom", "other-profiles")])
def test_clean_removes_that_profiles_outputs_alone(sandbox, profile, folder):
    before = listing(sandbox.parent)
    env = {"ARCHCOMPARE_PROFILES": folder} if folder else None
    done = run_make(sandbox, "clean", f"PROFILE={profile}", f"OUTPUTS={OUTPUTS}", env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout == f"removed {OUTPUTS}/{profile}\n"
    removed = f"box/{OUTPUTS}/{profile}"
    assert listing(sandbox.parent) == [e for e in before if e != removed and not e.startswith(f"{removed}/")]
    again = run_make(sandbox, "clean", f"PROFILE={profile}", f"OUTPUTS={OUTPUTS}", env=env)
    assert again.returncode == 0 and again.stdout == f"nothing to remove: {OUTPUTS}/{profile} does not exist\n"


TARGETS = [
    "help",
    "install",
    "wheels",
    "plan",
    "report",
    "runs",
    "bench",
    "test",
    "penalty",
    "golden",
    "lint",
    "clean",
    "lab",
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("value", ["q uick", "x';touch {parent}/injected;'"])
def test_every_target_refuses_a_bad_profile_before_running_anything(sandbox, target, value):
    """On the old Makefile a space made make warn "mixed implicit and normal rules" and go on."""
    before = listing(sandbox.parent)
    done = run_make(sandbox, target, f"PROFILE={value.format(parent=sandbox.parent)}", f"OUTPUTS={OUTPUTS}")
    assert_refused(
        done, r"^error: PROFILE='.*' is not a profile name \(letters, digits, '-', '_' and '\.', not first\)"
    )
    assert done.stdout == ""
    assert listing(sandbox.parent) == before


# An empty OUTPUTS is tried with `report` only: on the old Makefile `make clean PROFILE=smoke OUTPUTS=`
# was `rm -rf /smoke`, outside any sandbox.
@pytest.mark.parametrize(
    "target, value",
    [("report", "")]
    + [
        (target, value)
        for target in ("report", "clean")
        for value in ("a b", "x'y", "out:put", "$(shell touch {parent}/injected)")
    ],
)
def test_a_bad_outputs_folder_is_refused_in_one_line(sandbox, target, value):
    before = listing(sandbox.parent)
    done = run_make(sandbox, target, "PROFILE=smoke", f"OUTPUTS={value.format(parent=sandbox.parent)}")
    assert_refused(done, r"^error: OUTPUTS")
    assert listing(sandbox.parent) == before


@pytest.mark.parametrize("value", ["pyhton", "", "python notebook", "x';touch {parent}/injected;'"])
def test_a_bad_runner_is_refused_in_one_line(sandbox, value):
    """On the old Makefile any RUNNER but `python` (a typo) trained through the notebook, unsaid."""
    before = listing(sandbox.parent)
    done = run_make(
        sandbox, "runs", "PROFILE=smoke", f"OUTPUTS={OUTPUTS}", f"RUNNER={value.format(parent=sandbox.parent)}"
    )
    assert_refused(done, r"^error: RUNNER='.*' is not allowed: choose notebook .* or python")
    assert listing(sandbox.parent) == before


def test_runner_is_taken_from_the_command_line_only(sandbox):
    """An exported RUNNER of another tool (CI systems export such names) neither stops make nor picks a runner."""
    run = f"{OUTPUTS}/smoke/runs/resnet18-seed0/summary.json"
    (sandbox / run).unlink()
    for env, runner in (({"RUNNER": "ci-runner-7"}, "run"), ({"RUNNER": "python"}, "run"), ({}, "run")):
        done = run_make(sandbox, "-n", run, "PROFILE=smoke", f"OUTPUTS={OUTPUTS}", env=env)
        assert done.returncode == 0 and f"archcompare.cli {runner} " in done.stdout, done.stdout + done.stderr
    done = run_make(sandbox, "-n", run, "PROFILE=smoke", f"OUTPUTS={OUTPUTS}", "RUNNER=python")
    assert done.returncode == 0 and "archcompare.cli train " in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("folder", RESERVED_OUTPUT_FOLDERS)
def test_a_profile_cannot_take_the_name_of_a_folder_of_other_results(sandbox, folder, monkeypatch):
    """outputs/bench holds `make bench`'s tables, which the reports quote: `make clean PROFILE=bench`, with a
    bench.yaml added, removed them. Make refuses the name for every target, and the planner the profile."""
    (sandbox / "notebooks" / "profiles" / f"{folder}.yaml").write_text("architectures: [resnet18]\nseeds: [0]\n")
    (sandbox / OUTPUTS / folder).mkdir()
    (sandbox / OUTPUTS / folder / "results.json").write_text("{}\n")
    before = listing(sandbox.parent)
    for target in ("clean", "report"):
        done = run_make(sandbox, target, f"PROFILE={folder}", f"OUTPUTS={OUTPUTS}")
        assert_refused(done, rf"^error: PROFILE='{folder}' is not a profile name: {OUTPUTS}/{folder} holds the results")
    assert listing(sandbox.parent) == before
    monkeypatch.setenv("ARCHCOMPARE_PROFILES", str(sandbox / "notebooks" / "profiles"))
    with pytest.raises(PipelineError, match=rf"a profile cannot be named '{folder}': .* rename .*{folder}\.yaml"):
        load_profile(folder)


def test_help_works_without_a_profile(sandbox):
    done = run_make(sandbox, "help")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert re.search(r"make clean +remove one profile's outputs", done.stdout)


# Free-form values (a path with spaces or quotes is a legitimate DATA) must reach the commands through
# the environment: pasted into a command's text, a quote in them ends the quoting and the rest runs.
FREE_FORM = {
    "plan": ["DATA=imagefolder:/data/marker-1", "RETRAIN=marker-2", "LONG=marker-3"],
    "report": ["DATA=imagefolder:/data/marker-1", "RETRAIN=marker-2", "LONG=marker-3"],
    "runs": ["DATA=imagefolder:/data/marker-1", "RETRAIN=marker-2", "LONG=marker-3"],
    "penalty": ["DATA=imagefolder:/data/marker-1", "RUNS=marker-4"],
    "bench": ["CONCURRENCY=marker-5"],
    "wheels": ["WHEELS=marker-6", "TORCH=marker-7", "WHEELS_PYTHON=marker-8", "WHEELS_PLATFORM=marker-9"],
}


@pytest.mark.parametrize("target", FREE_FORM)
def test_free_form_values_are_never_pasted_into_a_command(sandbox, target):
    done = run_make(sandbox, "-n", target, "PROFILE=smoke", f"OUTPUTS={OUTPUTS}", *FREE_FORM[target])
    assert done.returncode == 0, done.stderr
    assert "archcompare" in done.stdout or "install.py" in done.stdout  # the commands were shown
    assert "marker-" not in done.stdout, done.stdout
