"""Batched augmentation: crop and flip keep the pixels, erasing erases one rectangle."""

import torch

from resnet_course.augment import augment_batch, random_crop_flip, random_erasing


def test_crop_flip_keeps_shape_and_pixels():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 6, 6)
    out = random_crop_flip(x, pad=2)
    assert out.shape == x.shape
    # every output pixel is either padding (0) or a pixel of the same image
    for i in range(8):
        values = set(x[i].flatten().tolist()) | {0.0}
        assert set(out[i].flatten().tolist()) <= values
    # with no padding the only change is an optional horizontal flip
    out0 = random_crop_flip(x, pad=0)
    for i in range(8):
        assert torch.equal(out0[i], x[i]) or torch.equal(out0[i], x[i].flip(2))


def test_random_erasing_erases_one_rectangle_per_image_or_none():
    torch.manual_seed(0)
    # noise fill is in [0, 1): erased pixels are >= 0
    x = torch.full((64, 1, 12, 12), -1.0)
    out = random_erasing(x, p=1.0)
    for img in out[:, 0]:
        erased = img >= 0
        rows, cols = (
            erased.any(1).nonzero().flatten(),
            erased.any(0).nonzero().flatten(),
        )
        assert erased.sum() > 0, "p=1 must erase every image"
        box = erased[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all(), "the erased pixels are not one filled rectangle"
    assert torch.equal(random_erasing(x, p=0.0), x)
    assert augment_batch(x, crop_flip=False, erase=0.0) is x


def test_crop_flip_returns_the_plain_layout():
    # With one channel, the crop once came back with channels-last strides, which
    # sent the CPU's convolutions down oneDNN's channels-last path; its weight
    # gradient for the strided 1x1 shortcut with 4 input channels corrupts memory
    # (oneDNN issue 6035: the "no random erasing" arm at width 4 crashed).
    for channels in (1, 3):
        x = torch.rand(4, channels, 6, 6)
        out = random_crop_flip(x, pad=2)
        assert out.stride() == x.stride()
        assert augment_batch(x, crop_flip=True, erase=0.0).stride() == x.stride()
