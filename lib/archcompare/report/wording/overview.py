"""The report's opening: its title, what it covers, and visible warnings."""

from __future__ import annotations

from ..format import dataset_name, display_name
from ..runs import Runs


def overview_markdown(runs: Runs) -> str:
    """What the report covers: the profile, its description and the runs found."""
    description = (runs.plan or {}).get("description")
    lines = [f"**Profile:** `{runs.profile}`" + (f" — {description}" if description else "")]
    planned = len((runs.plan or {}).get("runs", [])) if runs.plan else None
    count = f"{len(runs.complete)} of {planned} planned" if planned is not None else f"{len(runs.complete)}"
    labels = ", ".join(run.label for arch in runs.architectures for run in runs.of(arch))
    lines.append(f"**Complete runs:** {count}" + (f" ({labels})" if labels else ""))
    lines.append(f"**Run directory:** `{runs.profile_dir / 'runs'}`")
    return "\n\n".join(lines)


def warnings_markdown(runs: Runs) -> str:
    """Visible warnings: incomplete and missing runs, runs of older training code; empty when none apply."""
    notes = older_code_markdown(runs)
    missing = _missing_markdown(runs)
    return "\n\n".join(part for part in (missing, notes) if part)


def _missing_markdown(runs: Runs) -> str:
    if not (runs.incomplete or runs.missing or not runs.complete):
        return ""
    if runs.complete:
        headline = (
            "**Warning: not every expected run is complete.** The results below use only the "
            f"{len(runs.complete)} complete run(s)."
        )
    else:
        headline = f"**Warning: there are no complete runs under `{runs.profile_dir / 'runs'}`.**"
    items = [f"incomplete `{run.name}`: {run.state}" for run in runs.incomplete]
    items += [f"missing `{name}`: planned in plan.json, not trained yet" for name in runs.missing]
    lines = [f"> ⚠️ {headline}"] + ([">"] + [f"> - {item}" for item in items] if items else [])
    return "\n".join(lines)


def older_code_markdown(runs: Runs) -> str:
    """A visible note naming runs made by older training code (kept rather than retrained) and reused runs."""
    lines = []
    older = [run for run in runs.complete if run.older_code]
    if older:
        lines.append(
            "> ⚠️ **Trained by an older version of the training code.** These runs are kept, not retrained, "
            "because retraining costs (GPU) time; `make report RETRAIN=1` retrains them with the current code:"
        )
        lines.append(">")
        lines += [f"> - {run.label}: {run.older_code}" for run in older]
    reused = [run for run in runs.complete if run.reused_from]
    if reused:
        if lines:
            lines.append("")
        lines.append(
            "Reused runs (identical settings, data and training code; copied, not trained again): "
            + ", ".join(f"{run.label} from `{run.reused_from}`" for run in reused)
            + "."
        )
    return "\n".join(lines)


def title_markdown(runs: Runs) -> str:
    """The report's title: the architectures compared and the dataset, from the runs."""
    names = [display_name(arch) for arch in runs.architectures] or ["No runs"]
    compared = " vs ".join(names) if len(names) <= 3 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"# {compared} on {dataset_name(runs)}"
