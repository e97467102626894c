import numpy as np
import pytest

from supair_tf.masks import cut_and_paste
from supair_tf.transformer import transform

A = 28


def gather_bilinear(image, where, patch_size=A):
    """The textbook sampler: per patch pixel, gather 4 neighbours and scatter their weights."""
    height, width = image.shape
    sx, sy, x, y = where
    grid = np.linspace(0, patch_size, patch_size)
    patch = np.zeros([patch_size, patch_size])
    score = np.zeros([height, width])
    for v in range(patch_size):
        for u in range(patch_size):
            xs = np.clip(sx * grid[u] + x, 0, width - 1.0001)
            ys = np.clip(sy * grid[v] + y, 0, height - 1.0001)
            x0, y0 = int(np.floor(xs)), int(np.floor(ys))
            for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
                w = (1 - abs(xs - (x0 + dx))) * (1 - abs(ys - (y0 + dy)))
                patch[v, u] += w * image[y0 + dy, x0 + dx]
                score[y0 + dy, x0 + dx] += w
    return patch, np.minimum(score, 1.0)


def test_factorised_sampler_equals_gather_and_scatter_bilinear():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (2, 50, 50)).astype(np.float32)
    # Boxes inside, across the edge, and far outside the scene (clipped coordinates).
    where = np.array([[[0.5, 0.6, 10.3, 20.7], [0.9, 1.1, 30.2, 35.9], [0.3, 0.3, -5.0, 60.0]],
                      [[0.7, 0.7, 0.0, 0.0], [0.45, 0.5, 44.9, 3.3], [0.8, 0.7, 12.5, 12.5]]],
                     np.float32)
    patches, scores = transform(images[..., None], where, A)
    for b in range(2):
        for k in range(3):
            want_patch, want_score = gather_bilinear(images[b], where[b, k])
            np.testing.assert_allclose(patches[b, k, ..., 0].numpy(), want_patch, atol=1e-4)
            # float32 rounding of the 1.0001 clip margin, summed over 784 clipped samples
            np.testing.assert_allclose(scores[b, k].numpy(), want_score, atol=1e-3)


def test_colour_and_non_square_scenes_sample_each_channel_like_a_grey_scene():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (2, 40, 60, 3)).astype(np.float32)
    where = np.array([[[0.5, 0.6, 10.3, 20.7], [0.9, 0.8, 45.2, 5.9]],
                      [[0.7, 0.7, 0.0, 0.0], [0.45, 0.5, 30.9, 30.3]]], np.float32)
    patches, scores = transform(images, where, A)
    assert patches.shape == (2, 2, A, A, 3) and scores.shape == (2, 2, 40, 60)
    for b in range(2):
        for k in range(2):
            for ch in range(3):
                want_patch, want_score = gather_bilinear(images[b, ..., ch], where[b, k])
                np.testing.assert_allclose(patches[b, k, ..., ch].numpy(), want_patch, atol=1e-4)
            np.testing.assert_allclose(scores[b, k].numpy(), want_score, atol=1e-3)


def test_extracting_a_linear_ramp_is_exact():
    # Bilinear interpolation reproduces any function linear in (row, col) exactly.
    rows, cols = np.mgrid[0:50, 0:50]
    image = (0.01 * rows + 0.02 * cols).astype(np.float32)[None]
    where = np.array([[[0.6, 0.5, 12.0, 7.5]]], np.float32)
    patch = transform(image[..., None], where, A)[0].numpy()[0, 0, ..., 0]
    grid = np.linspace(0, A, A)
    want = 0.01 * (0.5 * grid[:, None] + 7.5) + 0.02 * (0.6 * grid[None, :] + 12.0)
    np.testing.assert_allclose(patch, want, atol=1e-5)


def test_extracting_a_square_returns_it_resized():
    image = np.zeros([1, 50, 50], np.float32)
    image[0, 10:31, 15:36] = 1.0  # a 21x21 square
    where = np.array([[[20 / 28, 20 / 28, 15.0, 10.0]]], np.float32)  # its box, corner to corner
    patch = transform(image[..., None], where, A)[0].numpy()[0, 0, ..., 0]
    assert patch.min() > 0.99  # the whole patch is the square


def test_the_indicator_of_an_inside_box_sums_to_its_area():
    where = np.array([[[0.5, 0.75, 10.0, 5.0], [0.9, 0.9, 20.0, 20.0]]], np.float32)
    _, scores = transform(np.zeros([1, 50, 50, 1], np.float32), where, A)
    for k in range(2):
        sx, sy = where[0, k, :2]
        width, height = A * sx, A * sy
        # Interpolation blurs the border by at most one pixel on each side.
        assert width * height <= scores[0, k].numpy().sum() <= (width + 2) * (height + 2)
        assert scores[0, k].numpy().max() == pytest.approx(1.0)


def test_masks_partition_the_scene():
    where = np.array([[[0.5, 0.5, 5.0, 5.0], [0.6, 0.6, 12.0, 14.0], [0.4, 0.5, 30.0, 28.0]]],
                     np.float32)
    _, indicators = transform(np.zeros([1, 50, 50, 1], np.float32), where, A)
    visibility, bg, overlap = cut_and_paste(where, indicators, A)
    bg, indicators = bg.numpy()[0], indicators.numpy()[0]
    for n in range(4):
        pasted = sum(bg[i] * indicators[i] for i in range(n))  # M_i = I_i prod_{j<i}(1 - I_j)
        np.testing.assert_allclose(bg[n] + pasted, 1.0, atol=1e-6)
    assert np.all(bg >= 0) and np.all(bg <= 1)
    # The first object is in front of everything and inside the scene: fully visible.
    assert overlap.numpy()[0, 0] == pytest.approx(0.0, abs=1e-5)


def test_an_object_behind_an_earlier_one_is_invisible():
    where = np.array([[[0.9, 0.9, 10.0, 10.0], [0.4, 0.4, 18.0, 18.0], [0.3, 0.3, 40.0, 2.0]]],
                     np.float32)
    _, indicators = transform(np.zeros([1, 50, 50, 1], np.float32), where, A)
    visibility, _, overlap = cut_and_paste(where, indicators, A)
    assert visibility.numpy()[0, 1].max() < 1e-5
    assert overlap.numpy()[0, 1] == pytest.approx(1.0, abs=1e-5)
    assert overlap.numpy()[0, 2] == pytest.approx(0.0, abs=1e-5)


def test_outside_the_scene_counts_as_unobserved():
    where = np.array([[[0.5, 0.5, 40.0, 10.0]]], np.float32)  # 14 px wide from x=40: 4 px out
    _, indicators = transform(np.zeros([1, 50, 50, 1], np.float32), where, A)
    visibility, _, overlap = cut_and_paste(where, indicators, A)
    # By hand: the patch's columns sample x = 40 + 0.5 u, u = linspace(0, 28, 28), on the
    # scene padded by one zero pixel (coordinates + 1, clipped to 50.9999): bilinear
    # weights give 1 up to x = 49, then fall linearly to the zero padding at x = 50.
    padded_x = np.minimum(40 + 0.5 * np.linspace(0, 28, 28) + 1, 50.9999)
    visible = np.clip(51 - padded_x, 0, 1)                    # ones at <= 50, zero at 51
    outside_share = 1 - visible.mean()                        # rows are all inside
    assert overlap.numpy()[0, 0] == pytest.approx(outside_share, abs=1e-4)
    assert abs(outside_share - 4 / 14) > 0.03 and abs(outside_share - 5 / 14) > 0.02


def test_gradients_with_respect_to_the_boxes_match_finite_differences_of_the_textbook():
    """d/d z_where of the patches, visibilities and background masks (through the gathers,
    the tents and the masks' recursion) against central differences of the same quantities
    built in float64 from the per-pixel bilinear sampler above."""
    import tensorflow as tf
    rng = np.random.default_rng(2)
    image = rng.uniform(0, 1, (50, 50))
    where = np.array([[[0.55, 0.65, 10.37, 20.71], [0.8, 0.9, 17.13, 25.29],
                       [0.45, 0.5, 38.61, 3.43]]])                  # overlapping, one leaving
    w_patch, w_vis, w_bg = (rng.normal(size=s) for s in ((3, A, A), (3, A, A), (4, 50, 50)))

    def textbook(where):
        bg, loss = np.ones([50, 50]), 0.0
        for k in range(3):
            patch, indicator = gather_bilinear(image, where[k])
            shifted = where[k] + np.array([0, 0, 1.0, 1.0])      # on the zero-padded scene
            visibility, _ = gather_bilinear(np.pad(bg, 1), shifted)
            loss += (patch * w_patch[k]).sum() + (visibility * w_vis[k]).sum()
            loss += (bg * w_bg[k]).sum()
            bg = bg * (1 - indicator)
        return loss + (bg * w_bg[3]).sum()

    z = tf.constant(where, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(z)
        patches, indicators = transform(tf.constant(image[None, ..., None], tf.float32), z, A)
        visibility, bg_masks, _ = cut_and_paste(z, indicators, A)
        loss = (tf.reduce_sum(patches[0, ..., 0] * w_patch) + tf.reduce_sum(visibility[0] * w_vis)
                + tf.reduce_sum(bg_masks[0] * w_bg))
    got = tape.gradient(loss, z).numpy()[0]
    assert float(loss) == pytest.approx(textbook(where[0]), rel=1e-5)
    # A small step: the clip of the indicators at 1 puts kinks within 1e-4 of this point.
    h, want = 1e-6, np.zeros([3, 4])
    for k in range(3):
        for j in range(4):
            step = np.zeros([3, 4])
            step[k, j] = h
            want[k, j] = (textbook(where[0] + step) - textbook(where[0] - step)) / (2 * h)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-3 * np.abs(want).max())
