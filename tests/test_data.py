import os

import numpy as np
import pytest
import torch
from conftest import cifar_pixels, make_cifar_folder, make_imagefolder
from PIL import Image

from archcompare.data import augment as data
from archcompare.data.sources import load_dataset, stratified_subset
from archcompare.data.spec import DatasetSpec
from archcompare.errors import ConfigError, DataError


def test_imagefolder_loads_grayscale_and_non_square_images(tmp_path):
    folder = make_imagefolder(tmp_path / "gray", train_per_class=5, test_per_class=3, size=(20, 12), mode="L")
    dataset = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=lambda m: None)
    assert dataset.classes == ("blue", "green", "red")  # from the folders, sorted
    assert dataset.train_images.shape == (15, 3, 12, 20) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (9, 3, 12, 20)
    assert dataset.train_labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    # grayscale is repeated into three equal channels
    assert torch.equal(dataset.train_images[:, 0], dataset.train_images[:, 2])


def test_imagefolder_with_mixed_sizes_is_resized_to_the_most_common(tmp_path):
    folder = make_imagefolder(tmp_path / "mixed", train_per_class=3, test_per_class=2, size=(16, 16))
    Image.new("RGB", (40, 30)).save(folder / "train" / "red" / "big.png")
    messages = []
    dataset = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    assert dataset.train_images.shape[1:] == (3, 16, 16)
    assert any("resizing" in m for m in messages)


@pytest.mark.parametrize("spec, classes, first", [("cifar10", 10, "airplane"), ("cifar100", 100, "class00")])
def test_cifar_readers_keep_the_pixel_layout_and_pair_each_label_with_its_image(tmp_path, spec, classes, first):
    data_dir = make_cifar_folder(tmp_path / "data", spec)
    dataset = load_dataset(spec, data_dir, log=lambda m: None)
    assert dataset.classes[0] == first and dataset.num_classes == classes
    assert dataset.train_images.shape == (100, 3, 32, 32) and dataset.test_images.shape == (30, 3, 32, 32)
    images = torch.cat([dataset.train_images, dataset.test_images]).numpy()
    labels = torch.cat([dataset.train_labels, dataset.test_labels]).tolist()
    for index, (image, label) in enumerate(zip(images, labels)):
        assert label == (7 * (index if index < 100 else index - 100) + 3) % classes
        np.testing.assert_array_equal(image, cifar_pixels(index, label))  # channels, rows and pairing


def test_cache_is_used_and_invalidated_when_the_folder_changes(tmp_path):
    folder = make_imagefolder(tmp_path / "images", train_per_class=4, test_per_class=2)
    messages = []
    first = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    second = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    assert sum("decoding" in m for m in messages) == 1
    assert torch.equal(first.train_images, second.train_images) and first.fingerprint == second.fingerprint
    Image.new("RGB", (16, 16), (255, 255, 255)).save(folder / "train" / "red" / "new.png")
    third = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    assert sum("decoding" in m for m in messages) == 2
    assert len(third.train_labels) == len(first.train_labels) + 1
    assert third.fingerprint != first.fingerprint
    # The same file names with other contents: a file rewritten with another size (its time kept),
    # then one rewritten with the same size at another time. Each is decoded again.
    edited = folder / "train" / "blue" / "0000.png"  # the first training image (classes sort blue first)
    before = edited.stat()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(edited)
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert edited.stat().st_size != before.st_size
    fourth = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    assert sum("decoding" in m for m in messages) == 3
    assert fourth.train_images[0, :, 0, 0].tolist() == [1, 2, 3] and fourth.fingerprint != third.fingerprint
    size = edited.stat().st_size
    Image.new("RGB", (16, 16), (4, 5, 6)).save(edited)
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    assert edited.stat().st_size == size
    fifth = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=messages.append)
    assert sum("decoding" in m for m in messages) == 4
    assert fifth.train_images[0, :, 0, 0].tolist() == [4, 5, 6] and fifth.fingerprint != fourth.fingerprint


def test_an_image_edited_in_place_is_decoded_again(tmp_path):
    folder = make_imagefolder(tmp_path / "images", train_per_class=4, test_per_class=2)
    first = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=lambda m: None)
    edited = folder / "train" / "blue" / "0000.png"  # the first training image (classes sort blue first)
    before = edited.stat()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(edited)  # same name, new pixels
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    second = load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=lambda m: None)
    assert second.train_images[0, :, 0, 0].tolist() == [1, 2, 3]
    assert second.fingerprint != first.fingerprint


def test_stratified_subset_is_balanced_seeded_and_bounded(tmp_path, separable_folder):
    dataset = load_dataset(f"imagefolder:{separable_folder}", tmp_path / "data", log=lambda m: None)
    subset = stratified_subset(dataset, train_per_class=5, test_per_class=2)
    assert torch.bincount(subset.train_labels).tolist() == [5, 5, 5]
    assert torch.bincount(subset.test_labels).tolist() == [2, 2, 2]
    again = stratified_subset(dataset, train_per_class=5, test_per_class=2)
    assert torch.equal(subset.train_images, again.train_images)
    with pytest.raises(DataError, match=r"train_per_class=33 is more than the data has.*32"):
        stratified_subset(dataset, train_per_class=33, test_per_class=0)


# --- augmentation ---


def images(n=8, h=12, w=10):
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("recipe", ["blog", "standard", "none"])
def test_augmentation_keeps_shape_and_is_reproducible(recipe):
    x = images()
    params = data.draw_augment_params(recipe, len(x), torch.Generator().manual_seed(3))
    out = data.augment(x, params)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    again = data.augment(x, data.draw_augment_params(recipe, len(x), torch.Generator().manual_seed(3)))
    assert torch.equal(out, again)
    if recipe == "none":
        assert torch.equal(out, x.float() / 255)


def test_flip_is_an_involution_and_only_flips_the_chosen_images():
    x = images()
    mask = torch.tensor([True, False] * 4)
    flipped = data.flip_horizontal(x, mask)
    assert torch.equal(data.flip_horizontal(flipped, mask), x)
    assert torch.equal(flipped[1], x[1]) and torch.equal(flipped[0], x[0].flip(2))


def test_rotation_moves_pixels_and_zero_rotation_does_not():
    x = images().float() / 255
    assert torch.equal(data.rotate(x, torch.zeros(len(x))), x)
    rotated = data.rotate(x, torch.full((len(x),), 10.0))
    assert (rotated != x).float().mean() > 0.3
    # a rotation by 180 degrees equals flipping both axes (rigid, also for non-square images)
    assert torch.allclose(data.rotate(x, torch.full((len(x),), 180.0)), x.flip(2, 3))


def test_crop_shifts_the_image_and_centre_crop_is_identity():
    x = images()
    centre = torch.full((len(x), 2), data.CROP_PADDING)
    assert torch.equal(data.random_crop(x, centre, data.CROP_PADDING), x)
    shifted = data.random_crop(x, centre + torch.tensor([0, 1]), data.CROP_PADDING)
    assert torch.equal(shifted[..., :-1], x[..., 1:])  # content moved one pixel left
    assert (shifted[..., -1] == 0).all()  # zero padding came in


@pytest.mark.parametrize("recipe", ["standard", "blog"])
def test_augment_applies_each_images_drawn_choices_as_torchvision_would(recipe):
    """augment() against torchvision's own transforms, image by image, with the same random choices."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    x = images(12, 16, 16)
    params = data.draw_augment_params(recipe, len(x), torch.Generator().manual_seed(7))
    out = data.augment(x, params)
    pad = data.CROP_PADDING
    for i in range(len(x)):
        expected = x[i]
        if recipe == "standard":
            dy, dx = params.shift[i].tolist()
            expected = TF.crop(TF.pad(expected, [pad]), dy, dx, x.shape[2], x.shape[3])
        if params.flip[i]:
            expected = TF.horizontal_flip(expected)
        expected = expected.float() / 255
        if recipe == "blog":
            angle = float(params.angle_degrees[i])
            expected = TF.rotate(expected, angle, interpolation=InterpolationMode.NEAREST)
        assert torch.equal(out[i], expected), (recipe, i)
    assert params.flip.any() and not params.flip.all()  # both branches are exercised
    assert not torch.equal(out, data.augment(x, None))  # the choices change the images


def test_augmentation_keeps_labels_with_their_images():
    # Each image is constant and its label is its value: after augmentation the (non-padded) pixels still match.
    n = 6
    x = torch.arange(n, dtype=torch.uint8)[:, None, None, None].expand(n, 3, 8, 8).contiguous() * 40
    labels = torch.arange(n)
    params = data.draw_augment_params("standard", n, torch.Generator().manual_seed(0))
    out = (data.augment(x, params) * 255).round()
    for i in range(n):
        assert out[i].max() == labels[i] * 40


def test_normalization_statistics():
    x = images(50)
    mean, std = data.normalization_stats("blog", x)
    assert mean.tolist() == [0.5] * 3 and std.tolist() == [0.5] * 3
    mean, std = data.normalization_stats("standard", x)
    expected = x.float().div(255).transpose(0, 1).reshape(3, -1)
    assert torch.allclose(mean, expected.mean(1), atol=1e-5)
    assert torch.allclose(std, expected.std(1, unbiased=False), atol=1e-5)


# --- bad input: one clear error each ---


def test_dataset_spec_is_checked_without_touching_disk():
    with pytest.raises(ConfigError, match=r"dataset='bogus:x' is not allowed.*imagefolder:<path>"):
        DatasetSpec.parse("bogus:x")
    with pytest.raises(ConfigError, match="imagefolder needs a path"):
        DatasetSpec.parse("imagefolder:")


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "does not exist"),
        ("no_test", "has no test/ folder"),
        ("one_class", "1 class folder"),
        ("classes_differ", r"test classes differ.*only in train: \['red'\]"),
        ("no_images", "has no images"),
    ],
)
def test_bad_imagefolders_are_refused_clearly(tmp_path, damage, message):
    folder = make_imagefolder(tmp_path / "images", train_per_class=2, test_per_class=1)
    if damage == "missing":
        folder = tmp_path / "nowhere"
    elif damage == "no_test":
        for f in (folder / "test").rglob("*.png"):
            f.unlink()
        for d in (folder / "test").iterdir():
            d.rmdir()
        (folder / "test").rmdir()
    elif damage == "one_class":
        folder = make_imagefolder(tmp_path / "one", 2, 1, classes={"red": (255, 0, 0)})
    elif damage == "classes_differ":
        for f in (folder / "test" / "red").iterdir():
            f.unlink()
        (folder / "test" / "red").rmdir()
    elif damage == "no_images":
        for f in (folder / "train" / "green").iterdir():
            f.unlink()
    with pytest.raises(DataError, match=message):
        load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=lambda m: None)


def test_undecodable_image_is_named(tmp_path):
    folder = make_imagefolder(tmp_path / "images", train_per_class=2, test_per_class=1)
    broken = folder / "train" / "red" / "broken.png"
    broken.write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"cannot decode image .*broken\.png"):
        load_dataset(f"imagefolder:{folder}", tmp_path / "data", log=lambda m: None)


def test_cifar_without_a_copy_offline_says_how_to_supply_one(tmp_path):
    assert os.environ["ARCHCOMPARE_OFFLINE"] == "1"  # conftest: the suite never downloads
    with pytest.raises(DataError, match=r"cifar10 is not in .*forbids downloading it.*imagefolder:"):
        load_dataset("cifar10", tmp_path / "data", log=lambda m: None)
    assert not (tmp_path / "data" / "cifar-10-batches-py").exists()
