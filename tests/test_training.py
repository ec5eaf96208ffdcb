import json
import math

import numpy as np
import pytest
import torch
from conftest import tiny_config
from processes import learning_history

from archcompare.config import RunConfig
from archcompare.errors import CheckpointError, ConfigError, NonFiniteLossError, TrainingError
from archcompare.record import SCHEMA_VERSION, read_record
from archcompare.training import lr_factor, train

quiet = dict(progress="none", log=lambda message: None)


def small_config(folder, tmp, **overrides):
    """A quarter of the separable images (8 per class to train on, 4 to test): for what training does
    with its state (seeds, checkpoints, precision), not for how well it learns."""
    return tiny_config(folder, tmp, **{"train_per_class": 8, "test_per_class": 4, **overrides})


class StopAfterEpoch:
    """A log function that interrupts training the way Ctrl-C does, once an epoch has finished."""

    def __init__(self, epoch: int):
        self.marker = f"epoch {epoch:>3}/"

    def __call__(self, message: str) -> None:
        if message.startswith(self.marker):
            raise KeyboardInterrupt


# --- schedule ---


def test_schedules_as_functions_of_the_step():
    total = 100
    assert [lr_factor(s, total, 0, "constant") for s in (0, 50, 99)] == [1, 1, 1]
    assert lr_factor(0, total, 0, "cosine") == 1 and lr_factor(50, total, 0, "cosine") == pytest.approx(0.5)
    assert lr_factor(100, total, 0, "cosine") == pytest.approx(0)
    assert [lr_factor(s, total, 0, "step") for s in (49, 50, 75)] == pytest.approx([1, 0.1, 0.01])
    # torchvision's StepLR(step_size=30, gamma=0.1) over 90 epochs, one step per epoch here.
    assert [lr_factor(s, 90, 0, "step-thirds") for s in (29, 30, 59, 60, 89)] == pytest.approx(
        [1, 0.1, 0.1, 0.01, 0.01]
    )
    assert [lr_factor(s, total, 10, "cosine") for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])


@pytest.mark.parametrize("total, warmup", [(100, 0), (37, 5), (7, 0), (1, 0)])
def test_onecycle_follows_torch_onecyclelr_and_ends_at_its_final_rate(total, warmup):
    peak = 0.4
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=peak, momentum=0.9)
    reference = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=peak, total_steps=total, pct_start=warmup / total if warmup else 0.3, cycle_momentum=False
    )
    expected = []
    for step in range(total):
        expected.append(reference.get_last_lr()[0])
        optimizer.step()
        if step < total - 1:  # OneCycleLR refuses to step past its last step
            reference.step()
    ours = [peak * lr_factor(step, total, warmup, "onecycle") for step in range(total)]
    assert ours == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert ours[-1] == pytest.approx(peak / 25e4)  # the last step reaches the final rate
    if total >= 10:
        assert max(ours) == pytest.approx(peak) and ours[0] == pytest.approx(peak / 25)


# --- config validation: every field's bad value names the field, the value and what is allowed ---

BAD_VALUES = [
    ("arch", "resnet51", "choose one of"),
    ("stem", "tiny", "choose one of cifar, imagenet"),
    ("dataset", "bogus:x", "choose one of cifar10"),
    ("data_dir", "", "must name a directory"),
    ("train_per_class", -1, "0 or more"),
    ("test_per_class", 1.5, "type int"),
    ("recipe", "autoaugment", "choose one of blog, standard, none, imagenet"),
    ("loader", "mmap", "choose one of auto, memory, stream"),
    ("loader", "stream", "it streams image files, so it needs dataset='imagefolder:<path>'"),
    ("epochs", 0, "positive integer"),
    ("batch_size", -8, "positive integer"),
    ("optimizer", "adam", "choose one of sgd, adamw"),
    ("lr", 0.0, "positive number"),
    ("lr", "1e-3", "type float"),
    ("momentum", 1.0, r"\[0, 1\)"),
    ("nesterov", "yes", "type bool"),
    ("weight_decay", -1e-4, "0 or more"),
    ("schedule", "linear", "choose one of constant, step, step-thirds, cosine, onecycle"),
    ("warmup_epochs", 20.0, r"\[0, epochs=3\]"),
    ("label_smoothing", 1.0, r"\[0, 1\)"),
    ("precision", "int8", "choose one of auto, fp32, bf16, fp16"),
    ("channels_last", 1, "type bool"),
    ("compile", "no", "type bool"),
    ("seed", -1, "0 or more"),
    ("device", "tpu", "choose one of auto, cpu, cuda"),
    ("deterministic", None, "type bool"),
    ("processes", 0, "positive integer"),
    ("sync_batchnorm", "yes", "type bool"),
    ("output_dir", "", "must name a directory"),
]


def test_every_config_field_has_a_bad_value_test():
    assert {name for name, _, _ in BAD_VALUES} == set(RunConfig.field_names())


@pytest.mark.parametrize("field, value, allowed", BAD_VALUES)
def test_invalid_config_values_raise_a_clear_error(field, value, allowed):
    with pytest.raises(ConfigError, match=rf"{field}={value!r}.*{allowed}".replace("(", r"\(")):
        RunConfig(**{field: value})


def test_papermill_reads_every_parameter_of_the_training_notebook():
    """papermill parses each line of the parameters cell; a line it cannot parse prints a warning into
    every make run and leaves the parameter out of what it reports as the notebook's parameters."""
    import papermill

    from archcompare.paths import TRAIN_NOTEBOOK
    from archcompare.pipeline.notebooks import notebook_parameters

    assert set(papermill.inspect_notebook(str(TRAIN_NOTEBOOK))) == set(notebook_parameters(TRAIN_NOTEBOOK))


def test_runconfig_defaults_are_the_training_notebooks_parameters_cell():
    """One set of defaults: what a profile does not set is the same whether make or a person runs the notebook."""
    from archcompare.paths import TRAIN_NOTEBOOK
    from archcompare.pipeline.notebooks import notebook_parameters

    cell = notebook_parameters(TRAIN_NOTEBOOK)
    defaults = RunConfig().to_dict()
    locations = ("output_dir", "data_dir")  # the notebook's are relative to notebooks/, the package's to the repository
    assert {key: cell[key] for key in defaults if key not in locations} == {
        key: value for key, value in defaults.items() if key not in locations
    }
    execution = {"resume", "progress", "step_mode", "device_shared_by"}  # how a run executes, not what it computes
    assert set(cell) == set(defaults) | execution
    for key in locations:
        assert cell[key] == f"../{defaults[key]}"


def test_unknown_parameter_is_named():
    with pytest.raises(ConfigError, match=r"unknown parameter 'learning_rate'.*allowed parameters are .*lr"):
        RunConfig.from_dict({"learning_rate": 0.1})


def test_nesterov_needs_sgd_with_momentum():
    with pytest.raises(ConfigError, match="nesterov=True"):
        RunConfig(nesterov=True, optimizer="adamw")


# --- training ---


def test_training_learns_a_separable_problem_and_writes_a_complete_run_directory(tmp_path, separable_folder):
    # lr 0.02, not the fixture's 0.05: at 0.05 batch norm's running statistics are still far off after
    # three epochs and test accuracy depends on the seed. At 0.02 seeds 0 to 15 all reached a final train
    # accuracy of at least 0.979 and a test accuracy of 1.0, so the thresholds below leave a margin
    # for any correct change of the random streams, not only for this seed.
    config = tiny_config(separable_folder, tmp_path, epochs=3, lr=0.02)
    record = train(config, **quiet)
    run_dir = tmp_path / "run"
    history = learning_history(run_dir)
    assert float(history[-1]["train_acc"]) >= 0.9 and record.test_acc >= 0.9  # three classes: chance is 1/3
    assert float(history[-1]["train_loss"]) < float(history[0]["train_loss"])
    assert [int(row["epoch"]) for row in history] == [1, 2, 3]
    stored = json.loads((run_dir / "summary.json").read_text())
    assert stored["schema"] == SCHEMA_VERSION and read_record(run_dir / "summary.json") == record
    assert stored["test_acc"] == pytest.approx(float(history[-1]["test_acc"]))  # final epoch, not best
    # The record keeps the settings and what identifies the data, never where either lay on this machine.
    settings = {key: value for key, value in config.to_dict().items() if key not in ("output_dir", "data_dir")}
    assert stored["config"] == {**settings, "dataset": f"imagefolder:{separable_folder.name}"}
    assert str(tmp_path) not in json.dumps(stored) and str(separable_folder.parent) not in json.dumps(stored)
    assert stored["data"]["kind"] == "imagefolder" and stored["data"]["classes"] == ["blue", "green", "red"]
    assert (stored["data"]["train_images"], stored["data"]["test_images"]) == (96, 48)
    assert np.array(stored["confusion_matrix"]).sum() == 3 * 16
    for key in (
        "code_version",
        "git_commit",
        "torch",
        "torchvision",
        "device_name",
        "cpu_count",
        "started",
        "finished",
    ):
        assert key in stored["env"], key
    predictions = np.load(run_dir / "predictions.npz")
    assert predictions["probabilities"].shape == (48, 3) and predictions["labels"].shape == (48,)
    assert np.allclose(predictions["probabilities"].sum(1), 1, atol=1e-4)
    accuracy = (predictions["probabilities"].argmax(1) == predictions["labels"]).mean()
    assert accuracy == pytest.approx(stored["test_acc"])


def test_history_logs_plain_cross_entropy_beside_the_smoothed_objective_and_epoch_time_is_images_over_rate(
    tmp_path, separable_folder
):
    record = train(tiny_config(separable_folder, tmp_path, epochs=1, label_smoothing=0.2), **quiet)
    (row,) = learning_history(tmp_path / "run", columns=None)
    # With label smoothing the objective is not the cross-entropy that test_loss reports; both are logged.
    assert math.isfinite(float(row["train_ce"])) and float(row["train_ce"]) != float(row["train_loss"])
    train_images = len(list((separable_folder / "train").rglob("*.png")))
    assert record.timing.seconds_per_epoch == pytest.approx(train_images / record.timing.images_per_second)


def test_a_commit_stated_by_the_launcher_is_recorded_instead_of_the_local_snapshot(monkeypatch):
    from archcompare.provenance import git_state

    here = git_state()
    assert here["git_commit"] is None or len(here["git_commit"]) == 40
    monkeypatch.setenv("ARCHCOMPARE_GIT_COMMIT", "0123abc dirty")
    assert git_state() == {"git_commit": "0123abc", "git_dirty": True, "git_commit_stated_by_launcher": True}
    monkeypatch.setenv("ARCHCOMPARE_GIT_COMMIT", "0123abc")
    assert git_state()["git_dirty"] is False


def test_same_seed_gives_identical_histories_and_another_seed_does_not(tmp_path, separable_folder):
    a = small_config(separable_folder, tmp_path, output_dir=str(tmp_path / "a"))
    train(a, **quiet)
    train(a.replace(output_dir=str(tmp_path / "b")), **quiet)
    train(a.replace(output_dir=str(tmp_path / "c"), seed=1), **quiet)
    assert learning_history(tmp_path / "a") == learning_history(tmp_path / "b")
    assert learning_history(tmp_path / "a") != learning_history(tmp_path / "c")


def test_the_seed_draws_each_epochs_order_and_augmentation(tmp_path, separable_folder):
    # The seed must reach the run's own generator, not only the model's initial weights: the
    # histories above would differ by the initialisation alone.
    from archcompare.training import epoch_batches, prepare_run

    def draws(seed):
        run = prepare_run(tiny_config(separable_folder, tmp_path, seed=seed), log=lambda message: None)
        batches = list(epoch_batches(run, 1))
        return [torch.cat([getattr(b.augmentation, name) for b in batches]) for name in ("flip", "shift")] + [
            torch.cat([b.index for b in batches])
        ]

    one, again, other = draws(1), draws(1), draws(2)
    assert all(torch.equal(a, b) for a, b in zip(one, again))
    flip, shift, order = (not torch.equal(a, b) for a, b in zip(one, other))
    assert order and flip and shift, "another seed must draw another order and other augmentation choices"


@pytest.mark.parametrize("stop_after", [1, 2])
def test_resumed_run_equals_an_uninterrupted_one(tmp_path, separable_folder, stop_after):
    config = small_config(separable_folder, tmp_path, epochs=3, recipe="blog", output_dir=str(tmp_path / "whole"))
    train(config, **quiet)
    interrupted = config.replace(output_dir=str(tmp_path / "interrupted"))
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, progress="lines", log=StopAfterEpoch(stop_after))
    assert not (tmp_path / "interrupted" / "summary.json").exists()
    assert len(learning_history(tmp_path / "interrupted")) == stop_after
    messages = []
    train(interrupted, progress="none", log=messages.append)
    assert any("resuming" in m and f"after epoch {stop_after}" in m for m in messages)
    assert learning_history(tmp_path / "interrupted") == learning_history(tmp_path / "whole")


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(config, progress="lines", log=StopAfterEpoch(1))
    messages = []
    train(config.replace(lr=0.01), progress="none", log=messages.append)
    assert any("other settings (lr)" in m for m in messages)
    # Not resumed: no epoch of the lr=0.05 run is kept; both epochs were trained at the new rate.
    assert not any("resuming" in m for m in messages), messages
    rows = learning_history(tmp_path / "run")
    assert [row["epoch"] for row in rows] == ["1", "2"] and all(float(row["lr"]) <= 0.01 for row in rows), rows


def test_corrupt_checkpoint_is_reported_with_how_to_restart(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(config, progress="lines", log=StopAfterEpoch(1))
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.raises(
        CheckpointError, match=r"is damaged.*delete it to restart this run from scratch: rm .*checkpoint\.pt"
    ):
        train(config, **quiet)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        train(config, progress="lines", log=StopAfterEpoch(1))
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["model"]["fc.weight"].fill_(math.nan)  # a diverged model, as a too-high lr leaves it
    torch.save(state, checkpoint)
    good = checkpoint.read_bytes()
    # The README's advice is in the message: lower the learning rate or train in fp32.
    with pytest.raises(
        NonFiniteLossError,
        match=r"became nan in epoch 2.*checkpoint after epoch 1 is kept\. Lower the learning rate .*precision='fp32'",
    ):
        train(config, **quiet)
    assert checkpoint.read_bytes() == good
    assert not (tmp_path / "run" / "summary.json").exists()


def test_cuda_without_a_gpu_is_refused(tmp_path, separable_folder):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(TrainingError, match=r"device='cuda'.*no CUDA GPU.*device='auto'"):
        train(tiny_config(separable_folder, tmp_path, device="cuda"), **quiet)


def test_unwritable_output_dir_is_refused_before_training(tmp_path, separable_folder):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(TrainingError, match=r"output_dir .*a-file/run' cannot be written"):
        train(tiny_config(separable_folder, tmp_path, output_dir=str(blocker / "run")), **quiet)


def test_bf16_is_used_and_tracks_fp32(tmp_path, separable_folder):
    losses, classifier_dtypes = {}, {}
    for precision in ("fp32", "bf16"):
        config = small_config(
            separable_folder, tmp_path, precision=precision, epochs=2, output_dir=str(tmp_path / precision)
        )
        seen = set()

        def record(module, inputs, output, seen=seen):
            if isinstance(module, torch.nn.Linear):
                seen.add(output.dtype)

        hook = torch.nn.modules.module.register_module_forward_hook(record)
        try:
            train(config, **quiet)
        finally:
            hook.remove()
        classifier_dtypes[precision] = seen
        losses[precision] = [float(row["train_loss"]) for row in learning_history(tmp_path / precision)]
    # The classifier really computes in the precision asked for (the MAC count runs outside autocast) ...
    assert classifier_dtypes["fp32"] == {torch.float32} and torch.bfloat16 in classifier_dtypes["bf16"]
    assert losses["bf16"] != losses["fp32"]
    # ... and, from the same data and initialisation, bf16 changes rounding, not what is learnt: the
    # first epoch's loss agrees closely (later ones are small, where rounding weighs more).
    assert losses["bf16"][0] == pytest.approx(losses["fp32"][0], rel=0.05)


def test_a_moved_run_directory_still_resumes(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=2, output_dir=str(tmp_path / "here"))
    with pytest.raises(KeyboardInterrupt):
        train(config, progress="lines", log=StopAfterEpoch(1))
    (tmp_path / "here").rename(tmp_path / "there")
    messages = []
    train(config.replace(output_dir=str(tmp_path / "there")), progress="none", log=messages.append)
    assert any("resuming" in m and "after epoch 1" in m for m in messages)


def test_the_headline_is_the_final_epoch_even_when_an_earlier_epoch_was_better(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train(config, progress="lines", log=StopAfterEpoch(2))  # both epochs done, no summary yet
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    state["history"][0]["test_acc"] = 1.01  # an earlier epoch that beat every later one
    torch.save(state, checkpoint)
    record = train(config, **quiet)  # resumes after the last epoch and writes the record
    assert record.best_test_acc == 1.01 and record.best_epoch == 1
    final = learning_history(tmp_path / "run")[-1]
    assert record.test_acc == pytest.approx(float(final["test_acc"])) and record.test_acc < 1.01
    with np.load(tmp_path / "run" / "predictions.npz") as predictions:
        saved = (predictions["probabilities"].argmax(1) == predictions["labels"]).mean()
    assert record.test_acc == pytest.approx(saved)  # the final model's own predictions


def test_checkpoints_are_replaced_atomically_never_rewritten_in_place(tmp_path, separable_folder):
    config = small_config(separable_folder, tmp_path, epochs=2)
    inodes = []

    def record(message):
        if message.startswith("epoch"):
            inodes.append((tmp_path / "run" / "checkpoint.pt").stat().st_ino)

    train(config, progress="lines", log=record)
    # Each epoch's checkpoint is a new file renamed over the old one: a reader (or a crash) never
    # meets a half-written checkpoint. A write in place would keep the inode.
    assert len(inodes) == 2 and inodes[0] != inodes[1]
    assert not list((tmp_path / "run").glob("*.partial"))


def test_evaluation_uses_running_statistics_changes_no_state_and_scores_each_image_alone(tmp_path, separable_folder):
    from archcompare.training import evaluate, prepare_run

    config = tiny_config(separable_folder, tmp_path, epochs=1)
    run = prepare_run(config, log=lambda message: None)
    # Running statistics that are not batch norm's initial ones, so using batch statistics would show.
    with torch.no_grad():
        for module in run.model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    before = {name: value.clone() for name, value in run.model.state_dict().items()}
    first = evaluate(run, run.model)
    second = evaluate(run, run.model)
    # Evaluation neither uses nor updates the test batches' statistics: the state is unchanged ...
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, before[name]), name
    # ... two evaluations agree exactly, and an image scored on its own gets the probabilities it got in its batch.
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    assert first.accuracy == second.accuracy
    images = run.dataset.test_images[:3]
    run.model.eval()
    with torch.no_grad():
        x = (images.float() / 255 - run.mean[None, :, None, None]) / run.std[None, :, None, None]
        alone = torch.cat([run.model(x[i : i + 1]).softmax(1) for i in range(3)])
    np.testing.assert_allclose(first.probabilities[:3], alone.numpy(), rtol=1e-4, atol=1e-6)


# --- captured steps (CUDA graphs) ---


def test_step_mode_is_eager_on_a_cpu_and_a_cuda_graph_is_refused_there_in_one_line(tmp_path, separable_folder):
    config = tiny_config(separable_folder, tmp_path, epochs=1)
    record = train(config, **quiet)  # step_mode="auto"
    assert record.env.step_mode == "eager" and record.env.device_shared_by == 1
    with pytest.raises(TrainingError, match=r"step_mode='cuda-graph' cannot be used here: it needs a CUDA device"):
        train(config.replace(output_dir=str(tmp_path / "graph")), step_mode="cuda-graph", **quiet)
    with pytest.raises(
        TrainingError, match=r"step_mode='graphs' is not allowed: choose one of auto, eager, cuda-graph"
    ):
        train(config.replace(output_dir=str(tmp_path / "bad")), step_mode="graphs", **quiet)


def test_auto_steps_eagerly_everywhere_until_captured_steps_have_passed_the_gpu_gate():
    from archcompare import execution

    # docs/gpu-sessions.md: auto captures only once the gate has passed on a GPU; until then a CUDA-capable
    # config steps eagerly.
    assert execution.chosen_step_mode("auto", capturable=True) == "eager"
    assert execution.chosen_step_mode("cuda-graph", capturable=True) == "cuda-graph"
    assert execution.chosen_step_mode("eager", capturable=True) == "eager"


def test_without_epoch_checkpoints_a_run_computes_the_same_writes_none_and_says_a_stop_restarts_it(
    tmp_path, separable_folder, monkeypatch
):
    """A lent GPU's session turns per-epoch checkpoints off through the environment; locally they stay on."""
    from archcompare.execution import resume_hint

    config = small_config(separable_folder, tmp_path, epochs=2)
    train(config, **quiet)
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # locally unchanged
    monkeypatch.setenv("ARCHCOMPARE_EPOCH_CHECKPOINTS", "0")
    without = config.replace(output_dir=str(tmp_path / "without"))
    messages = []
    train(without, progress="none", log=messages.append)
    assert not (tmp_path / "without" / "checkpoint.pt").exists()
    assert learning_history(tmp_path / "without") == learning_history(tmp_path / "run")
    assert any("no checkpoints (ARCHCOMPARE_EPOCH_CHECKPOINTS=0)" in message for message in messages)
    with pytest.raises(KeyboardInterrupt):
        train(config.replace(output_dir=str(tmp_path / "stopped")), progress="lines", log=StopAfterEpoch(1))
    assert not (tmp_path / "stopped" / "checkpoint.pt").exists()
    # What make's error line and a dead kernel's message then say (execution.resume_hint): no promise of a resume.
    hint = resume_hint()
    assert "starts the run from scratch" in hint and "resumes" not in hint
    monkeypatch.delenv("ARCHCOMPARE_EPOCH_CHECKPOINTS")
    assert (
        resume_hint() == "finished epochs are checkpointed, and running the same make command again resumes from them"
    )
