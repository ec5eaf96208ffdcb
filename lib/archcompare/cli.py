"""Command line for the Makefile: ``python -m archcompare.cli <step> ...``.

Errors the user can fix (bad profile, bad DATA, missing data, a failed run) are printed as one
line, ``error: ...``, with exit status 2 and no traceback; bugs still show their traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import ArchCompareError
from .interrupts import INTERRUPTED_EXIT_CODE, sigterm_as_keyboard_interrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="archcompare", description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    plan = steps.add_parser("plan", help="validate a profile and DATA; mark out-of-date runs")
    plan.add_argument("profile")
    plan.add_argument("--data", default="", help="dataset spec overriding the profile's (Make's DATA)")
    plan.add_argument("--runs-file", type=Path, help="also write the planned run names here, one a line")
    plan.add_argument("--retrain", default="", help="1: retrain runs made by older training code (Make's RETRAIN)")
    plan.add_argument("--long", default="", help="1: train missing runs however long they take (Make's LONG)")
    run = steps.add_parser("run", help="execute train.ipynb for one planned run directory")
    run.add_argument("directory", type=Path)
    train = steps.add_parser("train", help="train one planned run directory in this process, without Jupyter")
    train.add_argument("directory", type=Path)
    render = steps.add_parser("render", help="execute compare.ipynb and write report.html")
    render.add_argument("profile")
    bench = steps.add_parser("bench", help="benchmark the blog's loop against the project's")
    bench.add_argument("--quick", action="store_true", help="one step per measurement (checks the machinery)")
    bench.add_argument("--concurrency", metavar="PROFILE", help="measure 1, 2, 3 runs of PROFILE side by side")
    bench.add_argument("--session", action="store_true", help="a lent GPU's step-mode rows only, into a rows file")
    steps.add_parser("readme", help="rewrite the README's result and benchmark blocks from outputs/")
    penalty = steps.add_parser("data-penalty", help="train airbench94 on a CIFAR-10 copy: what the copy costs")
    penalty.add_argument("--data", required=True, help="the copy, as DATA: imagefolder:<path>")
    penalty.add_argument("--runs", type=int, default=10, help="how many airbench94 runs (about 4 s each on an A100)")
    session = steps.add_parser("session-plan", help="choose the queued runs that fit the GPU time left")
    session.add_argument(
        "--queue", required=True, help="profile:run items (and bench, penalty), separated by spaces, in priority order"
    )
    session.add_argument(
        "--deadline", type=float, required=True, help="when the device time ends, in seconds since the epoch"
    )
    session.add_argument("--data", default="", help="dataset spec for the runs (Make's DATA)")
    session.add_argument("--device-name", default="", help="the GPU model (default: this machine's device)")
    session.add_argument("--probe", action="store_true", help="time a few steps here where no committed run says")
    session.add_argument("--queue-file", type=Path, help="write the runs to start here, one a line")
    session.add_argument("--share", default="", help="profiles trained for accuracy only, which may share the GPU")
    unpack = steps.add_parser("unpack", help="put a GPU session's results into outputs/ and re-render (no training)")
    unpack.add_argument("folder", type=Path, help="what came back from the machine: results.tgz and the rest")
    unpack.add_argument("--replace", default="", help="1: replace complete runs that differ (Make's REPLACE)")
    args = parser.parse_args(argv)

    # When a run is interrupted while papermill waits on its kernel, nbclient's cell task can end later with
    # DeadKernelError, and asyncio prints that unretrieved task's traceback at exit: a duplicate of the
    # one-line error printed below, so asyncio's error log is kept off the terminal.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    try:
        # A killed job stops like Ctrl-C: cleanly, saying how to go on.
        with sigterm_as_keyboard_interrupt():
            _run_step(args)
    except ArchCompareError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        from .execution import resume_hint

        print(f"error: interrupted; {resume_hint()}", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    return 0


def _run_step(args: argparse.Namespace) -> None:
    """The step asked for; each imports only what it needs (``run`` and ``render`` load no torch)."""
    if args.step == "plan":
        from .pipeline.plan import plan

        planned = plan(args.profile, args.data or None, retrain=_flag(args.retrain), allow_long=_flag(args.long))
        if args.runs_file:
            args.runs_file.write_text("".join(f"{run.name}\n" for run in planned))
    elif args.step == "run":
        from .pipeline.execute import execute_run

        execute_run(args.directory)
    elif args.step == "train":
        from .pipeline.execute import train_without_jupyter

        train_without_jupyter(args.directory)
    elif args.step == "render":
        from .pipeline.render import render

        render(args.profile)
    elif args.step == "readme":
        from .report.readme import update_readme

        update_readme()
    elif args.step == "data-penalty":
        from .data_penalty import measure
        from .paths import DATA_PENALTY_DIR, data_dir, outputs_dir

        summary = measure(args.data, str(data_dir()), args.runs, outputs_dir() / DATA_PENALTY_DIR)
        print(
            f"airbench94 on {summary['copy']}: {100 * summary['mean']:.2f} % over {summary['n']} runs; "
            f"{100 * summary['penalty']:+.2f} points below the published {100 * summary['published_accuracy']:.2f} %"
        )
    elif args.step == "unpack":
        from .pipeline.unpack import unpack_and_render

        unpack_and_render(args.folder, replace=_flag(args.replace))
    elif args.step == "session-plan":
        _plan_session(args)
    elif args.step == "bench":
        from .bench import main as bench_main

        bench_main(
            ["--quick"] * args.quick
            + ["--session"] * args.session
            + (["--concurrency", args.concurrency] if args.concurrency else [])
        )


def _plan_session(args: argparse.Namespace) -> None:
    from .pipeline.session import plan_session, write_queue

    device_name = args.device_name
    if not device_name:
        from .provenance import environment
        from .training.device import resolve_device

        device_name = environment(resolve_device("auto"))["device_name"]
    probe = None
    if args.probe:
        from .probe import measure_training_speed

        def probe(run):
            # On a GPU: at least 64 batches in the step mode the run will use (probe.probe_shape).
            return measure_training_speed(run.config, step_mode=run.parameters["step_mode"], thorough=True)

    session = plan_session(
        args.queue.split(), args.deadline, device_name, args.data or None, probe, shareable=tuple(args.share.split())
    )
    print(f"on {device_name}: {session.summary()}")
    if args.queue_file:
        write_queue(session, args.queue_file)


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "no", "false")


if __name__ == "__main__":
    sys.exit(main())
