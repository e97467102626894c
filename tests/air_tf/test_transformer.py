"""AIR's transformer pinned to the convention of Pyro's example: PyTorch's affine_grid and
grid_sample (bilinear, zero padding, align_corners=False), written out here from their
definitions, and a window that spans 1/s of the canvas."""

import numpy as np
import tensorflow as tf

from air_tf.transformer import image_to_window, window_boxes, window_to_image


def grid_sample(source, theta, out_h, out_w):
    """affine_grid(theta, [1, 1, out_h, out_w]) then grid_sample(source [H, W]), one image:
    output pixel (i, j) sits at normalised (x, y) = ((2j + 1) / out_w - 1, (2i + 1) / out_h
    - 1); it samples the source at theta @ (x, y, 1), unnormalised by ((u + 1) size - 1) / 2,
    bilinearly, zero outside."""
    height, width = source.shape
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            x, y = (2 * j + 1) / out_w - 1, (2 * i + 1) / out_h - 1
            u, v = theta @ np.array([x, y, 1.0])
            px, py = ((u + 1) * width - 1) / 2, ((v + 1) * height - 1) / 2
            x0, y0 = int(np.floor(px)), int(np.floor(py))
            for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
                for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
                    if 0 <= yy < height and 0 <= xx < width:
                        out[i, j] += wy * wx * source[yy, xx]
    return out


WHERE = np.array([[3.0, 0.0, 0.0], [2.2, -0.7, 0.4], [1.3, 1.1, -1.6], [4.1, 2.9, 3.5],
                  [0.8, 0.3, -0.2]], np.float32)


def test_image_to_window_is_pyros_inverse_transform():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (len(WHERE), 20, 20)).astype(np.float32)
    windows = image_to_window(tf.constant(images[..., None]), tf.constant(WHERE), 7).numpy()
    for image, (s, x, y), window in zip(images, WHERE, windows, strict=True):
        theta = np.array([[1 / s, 0, -x / s], [0, 1 / s, -y / s]])  # Pyro's z_where_inv
        np.testing.assert_allclose(window, grid_sample(image, theta, 7, 7), atol=2e-5)


def test_window_to_image_is_pyros_transform():
    rng = np.random.default_rng(1)
    windows = rng.uniform(0, 1, (len(WHERE), 7, 7)).astype(np.float32)
    images = window_to_image(tf.constant(windows), tf.constant(WHERE), 20, 16).numpy()
    for window, (s, x, y), image in zip(windows, WHERE, images, strict=True):
        theta = np.array([[s, 0, x], [0, s, y]])                     # Pyro's expand_z_where
        np.testing.assert_allclose(image, grid_sample(window, theta, 20, 16), atol=2e-5)


def test_a_window_spans_one_over_s_of_the_canvas_where_its_box_says():
    where = tf.constant([[2.0, 0.0, 0.0], [4.0, -2.0, 1.0]])
    placed = window_to_image(tf.ones([2, 28, 28]), where, 50, 50).numpy()
    boxes = window_boxes(where, 50, 50).numpy()
    np.testing.assert_allclose(boxes[0], [12.5, 12.5, 37.5, 37.5], atol=1e-5)  # the centre half
    # centred at -(x, y) / s = (0.5, -0.25): pixels (37.5, 18.75), 12.5 wide
    np.testing.assert_allclose(boxes[1], [12.5, 31.25, 25.0, 43.75], atol=1e-5)
    centres = np.arange(50) + 0.5
    for image, (y0, x0, y1, x1) in zip(placed, boxes, strict=True):
        half = (x1 - x0) / 28 / 2  # half a window pixel, in canvas pixels
        rows, cols = ((centres >= a + half) & (centres <= b - half)
                      for a, b in ((y0, y1), (x0, x1)))
        assert np.all(image[np.ix_(rows, cols)] > 0.999)
        rows, cols = ((centres >= a) & (centres <= b) for a, b in ((y0, y1), (x0, x1)))
        assert np.all(image[~np.outer(rows, cols)] <= 0.5)  # outside: at most the edge's blend
        np.testing.assert_allclose(image.sum(), (y1 - y0) * (x1 - x0), rtol=0.05)
