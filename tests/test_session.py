"""Planning a stretch of lent GPU time (pipeline.session): estimates from committed runs, then a probe."""

from __future__ import annotations

import json
import shutil

import pytest

from archcompare.paths import outputs_dir
from archcompare.pipeline.session import SAFETY_SECONDS, SETUP_SECONDS, plan_session


def session_plan(*args, **kwargs):
    """plan_session estimating from the test's outputs only (not the repository's committed runs)."""
    return plan_session(*args, records_from=(outputs_dir(),), **kwargs)


# A profile of these tests. The tiny runs are seeds 0 and 1 of the first two of TINY_ARCHITECTURES.
TINY = (
    "architectures: [{architectures}]\nseeds: [0, 1, 2]\n"
    "parameters: {{epochs: {epochs}, batch_size: 10, lr: 0.05, schedule: cosine, nesterov: false, recipe: standard,\n"
    "  precision: fp32, device: cpu, deterministic: true, train_per_class: 0, test_per_class: 0}}\n"
)
TINY_ARCHITECTURES = "resnet50, resnext50_32x4d, resnet18"


@pytest.fixture
def session(tmp_path, tiny_runs, monkeypatch):
    """The tiny runs (two seeds of two architectures, 2 epochs) committed under a profile with a third seed."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "tiny.yaml").write_text(TINY.format(architectures=TINY_ARCHITECTURES, epochs=2))
    (profiles / "tiny-long.yaml").write_text(TINY.format(architectures=TINY_ARCHITECTURES, epochs=6))
    outputs = tmp_path / "outputs"
    shutil.copytree(tiny_runs, outputs / "tiny" / "runs", ignore=shutil.ignore_patterns("checkpoint.pt"))
    monkeypatch.setenv("ARCHCOMPARE_PROFILES", str(profiles))
    monkeypatch.setenv("ARCHCOMPARE_OUTPUTS", str(outputs))
    records = {
        path.parent.name: json.loads(path.read_text()) for path in (outputs / "tiny" / "runs").glob("*/summary.json")
    }
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
        assert estimate.seconds == max(walls) and estimate.basis == "wall time of 2 such run(s)"


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
    assert probed.start[0][0].basis == "100 img/s probed now"
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
