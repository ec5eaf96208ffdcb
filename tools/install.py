"""Create the project's virtual environment: ``make install`` runs this with the chosen Python.

Two ways to get torch, one way for everything else:

- ``--torch pinned`` (default): torch and torchvision at the versions in requirements.txt.
- ``--torch system``: reuse the torch and torchvision of the Python that runs this script, when
  they are at least the oldest versions the project supports. That Python may itself live in a
  virtual environment (GPU images often carry one), whose packages a ``--system-site-packages``
  venv would not see, so the new venv gets a ``.pth`` file naming that environment's
  site-packages. Pinned packages the machine already has are reused too; the rest are installed
  at their pinned versions.
- ``--wheels DIR``: install from a folder of wheels with no network (``make wheels`` fills one on
  a connected machine for a chosen Python version and platform).

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The oldest releases the project is tested on (torch 2.11 / torchvision 0.26 with Python 3.12, as
# GPU images carry them in 2026); requirements.txt pins the default, newer pair.
OLDEST_SUPPORTED = {"torch": (2, 11), "torchvision": (0, 26)}
TORCH_PACKAGES = ("torch", "torchvision")
KERNEL_NAME = "archcompare"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--torch", choices=("pinned", "system"), default="pinned")
    parser.add_argument("--wheels", type=Path, help="install offline from this folder of wheels")
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--lab", action="store_true", help="with --download: JupyterLab and ruff's wheels too")
    parser.add_argument("--download", action="store_true", help="fill --wheels for another machine instead")
    parser.add_argument("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--platform", default="manylinux_2_28_x86_64")
    parser.add_argument(
        "--missing-from",
        type=Path,
        help="with --download: only the pins this list of the target's installed packages lacks (names, one a line)",
    )
    args = parser.parse_args(argv)
    try:
        if args.download:
            requirements = [args.requirements] + ([ROOT / "requirements-lab.txt"] if args.lab else [])
            installed = read_names(args.missing_from) if args.missing_from else None
            for path in requirements:
                download(
                    args.wheels or ROOT / "wheels", args.torch, path, args.python_version, args.platform, installed
                )
        else:
            install(args.venv, args.torch, args.wheels, args.requirements)
    except InstallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


class InstallError(Exception):
    pass


def install(venv_dir: Path, torch_mode: str, wheels: Path | None, requirements: Path) -> None:
    if wheels is not None and not wheels.is_dir():
        raise InstallError(f"WHEELS={wheels} is not a folder of wheels (make wheels fills one)")
    pins = read_pins(requirements)
    reuse: dict[str, str] = {}
    site_dir = None
    if torch_mode == "system":
        site_dir = check_system_torch()
        reuse = installed_here()  # every distribution the machine's Python already has
    # setuptools builds the editable install inside the venv, where the copy `venv` itself may have put
    # (Python 3.11's ensurepip: setuptools 65, which cannot build it offline) comes before the machine's.
    to_install = [line for name, line in pins.items() if normalize(name) not in reuse or normalize(name) == "setuptools"]
    if torch_mode == "system":
        kept = sorted(name for name in pins if normalize(name) in reuse and normalize(name) != "setuptools")
        print(f"reusing this Python's {', '.join(kept)}")

    python = venv_dir / "bin" / "python"
    symlinks = os.name != "nt"  # as `python -m venv` does
    if not python.exists():
        try:
            venv.EnvBuilder(with_pip=True, symlinks=symlinks).create(venv_dir)
        except subprocess.CalledProcessError:
            # Some images' Pythons lack ensurepip: then this Python's pip installs into the new venv.
            venv.EnvBuilder(with_pip=False, symlinks=symlinks).create(venv_dir)
    has_pip = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode == 0
    pip = [str(python), "-m", "pip"] if has_pip else [sys.executable, "-m", "pip", "--python", str(python)]
    if site_dir is not None:
        site_packages = Path(run_output(python, "import sysconfig; print(sysconfig.get_path('purelib'))"))
        (site_packages / "_machine_torch.pth").write_text(f"{site_dir}\n")
    pip += ["install", "--quiet", "--disable-pip-version-check"]
    if wheels is not None:
        pip += ["--no-index", "--find-links", str(wheels)]
    if to_install:
        subprocess.run([*pip, *to_install], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    run_output(python, "import torch, torchvision, archcompare, papermill; print(torch.__version__)")
    register_kernel(python, venv_dir)


def download(
    wheels: Path,
    torch_mode: str,
    requirements: Path,
    python_version: str,
    platform: str,
    installed: set[str] | None = None,
) -> None:
    """Fill ``wheels`` with every pinned package (torch too unless ``system``) for the target machine.

    ``installed``: the target's own packages (normalized names); then only the pins it lacks, without
    their dependencies, which the pins (a whole freeze) and the target's packages already hold.
    """
    pins = read_pins(requirements)
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != python_version:
        # pip evaluates dependency markers (`; python_version == "3.12"`) against the Python running it.
        print(
            f"warning: Python {running} is downloading for Python {python_version}; dependencies that only "
            f"Python {python_version} needs may be missed: run with PYTHON=python{python_version} where there is one",
            file=sys.stderr,
        )
    target = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    # pip matches platform tags exactly: name the older manylinux tags a newer glibc also runs.
    match = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", platform)
    platforms = [platform]
    if match:
        glibc, arch = int(match.group(1)), match.group(2)
        platforms = [f"manylinux_2_{n}_{arch}" for n in range(glibc, 4, -1)] + [
            f"manylinux2014_{arch}",
            f"manylinux1_{arch}",
        ]
    for tag in platforms:
        target += ["--platform", tag]
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-d", str(wheels)]
    # Left out: torch and its kind where the target brings its own, and whatever the target already has.
    brings_torch = torch_mode != "pinned" or installed is not None
    left_out = (set(TORCH_PACKAGES) if brings_torch else set()) | (installed or set())
    missing = {name: line for name, line in pins.items() if normalize(name) not in left_out}
    wanted = list(missing.values())
    if installed is not None:
        target.append("--no-deps")
        print(f"the target lacks {len(missing)} pinned package(s): {', '.join(sorted(missing))}")
    # Resolved for the target Python: the freeze was made on one version, and a package may need more
    # on another (papermill needs aiohttp on Python 3.12); torch brings its CUDA libraries.
    if wanted:
        subprocess.run([*pip, *target, *wanted], check=True)
    print(f"wrote {len(list(wheels.glob('*.whl')))} wheels to {wheels} for Python {python_version} on {platform}")


def read_pins(requirements: Path) -> dict[str, str]:
    """Requirement lines by distribution name (``name==version``, perhaps with a ``; marker``)."""
    pins = {}
    for line in map(_without_comment, requirements.read_text().splitlines()):
        if line:
            pins[re.split(r"[=<>!~; ]", line, maxsplit=1)[0]] = line
    return pins


def read_names(path: Path) -> set[str]:
    """Normalized package names, one a line; ``#`` starts a comment."""
    if not path.is_file():
        raise InstallError(f"{path} is not a list of installed packages (one name a line)")
    return {normalize(name) for name in map(_without_comment, path.read_text().splitlines()) if name}


def _without_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_here() -> dict[str, str]:
    return {normalize(d.metadata["Name"]): d.version for d in importlib.metadata.distributions() if d.metadata["Name"]}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:2])


def check_system_torch() -> Path:
    """The site-packages folder holding this Python's torch, after checking the versions."""
    try:
        import torch
        import torchvision
    except ImportError as error:
        raise InstallError(
            f"TORCH=system: {sys.executable} cannot import {error.name}; "
            "install torch there, name another Python with PYTHON=..., or leave TORCH unset for the pinned torch"
        ) from None
    for module in (torch, torchvision):
        name = module.__name__
        if version_tuple(module.__version__) < OLDEST_SUPPORTED[name]:
            oldest = ".".join(map(str, OLDEST_SUPPORTED[name]))
            raise InstallError(
                f"TORCH=system: {sys.executable} has {name} {module.__version__}, older than the oldest supported "
                f"({oldest}); leave TORCH unset to install the pinned versions"
            )
    print(f"using this Python's torch {torch.__version__} and torchvision {torchvision.__version__}")
    return Path(torch.__file__).resolve().parents[1]


def run_output(python: Path, code: str) -> str:
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"the new environment cannot run {code!r}: {done.stderr.strip().splitlines()[-1]}")
    return done.stdout.strip()


def register_kernel(python: Path, venv_dir: Path) -> None:
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    spec = venv_dir / "share" / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json"
    kernel = json.loads(spec.read_text())
    kernel["display_name"] = "Python (archcompare)"
    # Quiet kernel logs: a kernel stopped with its run (Ctrl-C, a killed job) would print socket tracebacks.
    kernel["argv"].append("--IPKernelApp.log_level=CRITICAL")
    spec.write_text(json.dumps(kernel, indent=1))


if __name__ == "__main__":
    sys.exit(main())
