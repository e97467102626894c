"""--dataset=npz:PATH: a user's own scenes, with or without labels; bad files in one line."""

import numpy as np
import pytest

from datasets import DatasetError, load_dataset, scenes


def write(path, **arrays):
    np.savez(path, **arrays)
    return f'npz:{path}'


def labelled(n=20, rng=None):
    rng = rng or np.random.default_rng(0)
    images = rng.integers(0, 256, [n, 12, 16, 3], dtype=np.uint8)
    counts = rng.integers(0, 3, n)
    boxes = rng.uniform(0, 10, [n, 2, 4]).astype(np.float32)
    return images, counts, boxes


def test_uint8_scenes_with_labels_round_trip_and_split_80_20(tmp_path):
    images, counts, boxes = labelled()
    train, test = load_dataset(write(tmp_path / 's.npz', images=images, counts=counts,
                                     boxes=boxes))
    assert (len(train), len(test)) == (16, 4)
    both = np.concatenate([train.images, test.images])
    assert both.dtype == np.float32 and both.shape == (20, 12, 16, 3)
    np.testing.assert_array_equal(both * 255.0, images.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([train.counts, test.counts]), counts)
    np.testing.assert_array_equal(np.concatenate([train.boxes, test.boxes]), boxes)


def test_float_scenes_without_labels_and_a_test_split_of_their_own(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, [6, 10, 10, 1]).astype(np.float64)
    test_images = rng.uniform(0, 1, [3, 10, 10, 1])
    train, test = load_dataset(write(tmp_path / 'u.npz', images=images, test_images=test_images))
    assert train.counts is None and train.boxes is None and test.counts is None
    np.testing.assert_array_equal(train.images, images.astype(np.float32))
    np.testing.assert_array_equal(test.images, test_images.astype(np.float32))
    assert len(train.subset(2)) == 2


def test_counts_without_boxes_give_accuracy_labels_and_no_iou(tmp_path):
    images, counts, _ = labelled()
    train, _ = load_dataset(write(tmp_path / 'c.npz', images=images, counts=counts))
    np.testing.assert_array_equal(train.counts, counts[:16])
    assert np.all(np.isnan(train.boxes))


@pytest.mark.parametrize('arrays, message', [
    (None, 'no file'),
    ('garbage', 'is not a readable .npz file'),
    ({'pictures': np.zeros([4, 8, 8, 1])}, 'holds no array "images" (it has: pictures)'),
    ({'images': np.zeros([4, 8, 8])}, 'images must be [N, H, W, C] with C = 1 or 3'),
    ({'images': np.zeros([4, 8, 8, 2])}, 'got shape [4, 8, 8, 2]'),
    ({'images': np.full([4, 8, 8, 1], np.nan)}, 'images holds NaN or inf'),
    ({'images': np.full([4, 8, 8, 1], 2.0)}, 'has values from 2 to 2; expected floats in [0, 1]'),
    ({'images': np.zeros([4, 8, 8, 1], np.int32)}, 'images is int32; expected uint8 0-255'),
    ({'images': np.zeros([4, 8, 8, 1]), 'counts': np.zeros(3, int)}, 'counts must be 4 integers'),
    ({'images': np.zeros([4, 8, 8, 1]), 'counts': np.full(4, 3), 'boxes': np.zeros([4, 2, 4])},
     'boxes must be [4, K, 4] with K at least the largest count (3)'),
    ({'images': np.zeros([4, 8, 8, 1]), 'test_images': np.zeros([2, 8, 9, 1])},
     'differ in scene shape'),
    ({'images': np.zeros([2, 8, 8, 1])}, 'holds 2 scenes: at least 3 are needed'),
])
def test_a_bad_file_stops_with_one_line_naming_it(arrays, message, tmp_path):
    path = tmp_path / 'bad.npz'
    if arrays == 'garbage':
        path.write_bytes(b'not a zip file')
    elif arrays is not None:
        np.savez(path, **arrays)
    with pytest.raises(DatasetError) as error:
        load_dataset(f'npz:{path}')
    text = str(error.value)
    assert message in text and str(path) in text and '\n' not in text


def test_colour_sprites_are_the_grey_scenes_before_their_conversion():
    grey, counts, boxes = scenes.sprites(40, np.random.default_rng(5))
    rgb, rgb_counts, rgb_boxes = scenes.sprites(40, np.random.default_rng(5), colour=True)
    np.testing.assert_array_equal(rgb_counts, counts)
    np.testing.assert_array_equal(rgb_boxes, boxes)
    np.testing.assert_array_equal(rgb @ np.array([1.0, 0.8, 0.7], np.float32), grey)
    # one colour per shape: every lit pixel is pure red, green or blue
    lit = rgb.reshape(-1, 3)[rgb.reshape(-1, 3).sum(1) > 0]
    assert len(lit) and np.all(np.sort(lit, axis=1) == [0, 0, 1])


def test_more_objects_on_a_larger_canvas():
    images, counts, boxes = scenes.sprites(60, np.random.default_rng(2), canvas=80,
                                           max_objects=4)
    assert images.shape == (60, 80, 80) and boxes.shape == (60, 4, 4)
    assert set(counts) == {0, 1, 2, 3, 4}
    assert boxes.max() <= 80 and np.all(boxes[np.arange(4)[None] >= counts[:, None]] == 0)
