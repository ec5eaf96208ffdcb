"""The device tests: what the GPU session's gate runs, by node id (tools/gpu_session.sh, GATE_TESTS).

Captured steps against eager ones, exactly (deterministic kernels, fp32 and bf16, 256 steps) and as
the profiles run (autotuned kernels, through ``train()``), and the GPU's augmentation against the
CPU's. Each needs a CUDA GPU and is skipped without one; the gate counts a skip as a failure.
"""

import pytest
import torch
from conftest import tiny_config
from processes import learning_history

from archcompare.data import augment as data
from archcompare.training import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision, recipe", [("fp32", "blog"), ("bf16", "standard")])
def test_captured_steps_compute_what_eager_steps_compute(tmp_path, precision, recipe):
    """The same weights and batches, stepped eagerly and replayed from a CUDA graph: the same losses and weights.

    Deterministic kernels, so eager twice gives the same bits; the graph replays the eager kernels, so the
    tolerances only allow for the reduction order of a different cuDNN algorithm choice: 1e-5 relative on
    each epoch's loss and 1e-4 of each weight tensor's norm in fp32, ten times that in bf16 (8 bits of mantissa).
    """
    from archcompare.config import RunConfig
    from archcompare.probe import synthetic_dataset
    from archcompare.training import epoch_batches, prepare_run
    from archcompare.training.steps import CapturedSteps, EagerSteps

    # 256 steps ("a few hundred"): 8 epochs of 1,000 images at batch 32 (31 full batches, one of 8).
    config = RunConfig(
        arch="resnet50", recipe=recipe, precision=precision, batch_size=32, channels_last=precision == "bf16",
        train_per_class=0, test_per_class=0, lr=0.01, epochs=8, device="cuda", deterministic=True,
        output_dir=str(tmp_path),
    )  # fmt: skip
    dataset = synthetic_dataset(train=1000, test=100)
    results = {}
    for steps_class in (EagerSteps, CapturedSteps):
        run = prepare_run(config, log=lambda message: None, dataset=dataset)
        steps = steps_class(run, run.model)
        losses = []
        for epoch in range(1, config.epochs + 1):
            steps.start_epoch()
            for batch in epoch_batches(run, epoch):
                steps.step(batch)
            losses.append(steps.totals()[0].item() / len(dataset.train_labels))
        results[steps_class.mode] = losses, {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    scale = 1 if precision == "fp32" else 10
    (eager_losses, eager_state), (graph_losses, graph_state) = results["eager"], results["cuda-graph"]
    assert graph_losses == pytest.approx(eager_losses, rel=1e-5 * scale)
    for name, eager_value in eager_state.items():
        if eager_value.is_floating_point():
            difference = (graph_state[name] - eager_value).norm() / eager_value.norm().clamp_min(1e-12)
            assert difference <= 1e-4 * scale, name
        else:
            assert torch.equal(graph_state[name], eager_value), name


# The 2-epoch comparison through train(), with autotuned kernels: see the test's docstring for why these suffice.
LOSS_TOLERANCE = 0.01  # relative, on each epoch's train_loss, train_ce and test_loss
ACCURACY_TOLERANCE_IMAGES = 2  # on each epoch's train_acc and test_acc


def test_a_captured_run_trains_the_eager_runs_history_with_autotuned_kernels(tmp_path, separable_folder):
    """``train()`` with captured steps, as the profiles run it (``deterministic=False``: cuDNN autotuning and TF32
    on), writes the history of the same run stepped eagerly, within 1 % on each epoch's losses and 2 images on
    each epoch's accuracies, and records its step mode.

    Why not exact: cuDNN's autotuning times candidate algorithms in each run and may choose another one in the
    captured run than in the eager one, and TF32 rounds convolution inputs to 10 mantissa bits (relative error
    up to 2^-11, about 5e-4), so the two runs may differ in the order and rounding of every convolution's sums:
    a few 1e-4 of each layer's output, which ten SGD steps at lr 0.05 on 96 images do not grow to 1 % of a loss.
    The exact comparison is the deterministic test above (1e-5 over 256 steps). Why enough: what this test
    guards, the captured path inside ``train()`` under the profiles' settings, fails by far more than 1 % when
    it fails. A replay that reads a stale batch or stale augmentation choices trains on one batch of the five;
    gradients that pile up across replays double the step; epoch totals not zeroed double epoch 2's loss; a
    skipped optimizer step leaves the loss where it began; a lost last batch (eager, 16 of 96 images) changes
    the epoch's mean. The measured differences are printed, so the gate's log records them.
    """
    # 96 images of 16x16 at batch 20: four captured steps and an eager one of 16 images an epoch; the blog's
    # arithmetic (fp32, its recipe, the default layout), where a captured run is what makes it fit a session.
    config = tiny_config(
        separable_folder, tmp_path, device="cuda", deterministic=False, precision="fp32", recipe="blog",
        channels_last=False, batch_size=20, epochs=2,
    )  # fmt: skip
    histories = {}
    for mode in ("eager", "cuda-graph"):
        directory = tmp_path / mode
        record = train(
            config.replace(output_dir=str(directory)), step_mode=mode, progress="none", log=lambda message: None
        )
        assert record.env.step_mode == mode
        histories[mode] = [
            {key: float(value) for key, value in row.items()} for row in learning_history(directory, columns=None)
        ]
    train_images, test_images = 96, 48
    worst = {}
    for eager, graph in zip(histories["eager"], histories["cuda-graph"], strict=True):
        assert graph["lr"] == eager["lr"]
        for column in ("train_loss", "train_ce", "test_loss"):
            worst[column] = max(worst.get(column, 0.0), abs(graph[column] - eager[column]) / abs(eager[column]))
        for column, images in (("train_acc", train_images), ("test_acc", test_images)):
            worst[column] = max(worst.get(column, 0.0), round(abs(graph[column] - eager[column]) * images))
    print("captured against eager, largest difference over the epochs:", worst)
    assert all(worst[column] <= LOSS_TOLERANCE for column in ("train_loss", "train_ce", "test_loss")), worst
    assert all(worst[column] <= ACCURACY_TOLERANCE_IMAGES for column in ("train_acc", "test_acc")), worst


@pytest.mark.parametrize("recipe, tolerance", [("standard", 0.0), ("blog", 0.01)])
def test_gpu_augmentation_equals_cpu_augmentation(recipe, tolerance):
    """The same random choices give the same 8-bit pixels on the GPU as on the CPU.

    Compared as 8-bit values: CUDA divides by a scalar as a multiplication by its reciprocal, so
    about half of the k/255 floats differ from the CPU's in the last bit (an H200 showed 47 % of
    the floats differing); one bit is all they may differ by. Crop and flip are pure indexing:
    identical. Rotation samples the nearest pixel of a grid the GPU computes with TF32 matmuls (as
    training sets them), so a coordinate within about 0.01 pixel of a boundary may fall either way.
    """
    x = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    params = data.draw_augment_params(recipe, len(x), torch.Generator().manual_seed(5))
    cpu = data.augment(x, params)
    gpu = data.augment(x.cuda(), params).cpu()
    cpu_bytes, gpu_bytes = (t.mul(255).round().to(torch.uint8) for t in (cpu, gpu))
    assert (cpu_bytes != gpu_bytes).float().mean() <= tolerance
    same = cpu_bytes == gpu_bytes
    torch.testing.assert_close(gpu[same], cpu[same], rtol=0, atol=1e-7)  # at most the last bit
