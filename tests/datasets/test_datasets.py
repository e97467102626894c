import math
import os
import re
import time

import numpy as np
import pytest

from datasets import DatasetError, core, digit_pool, load_dataset, scenes
from datasets.mnist import load_mnist_digits, md5sum, mnist_image_paths, read_idx, verify_md5
from tests.runs import write_idx

SHARED_MNIST = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared', 'mnist')


@pytest.fixture(scope='module')
def digits():
    """Digit-like random blobs: the same data on every machine (real MNIST: test below)."""
    rng = np.random.default_rng(0)
    blobs = np.zeros([200, 28, 28], np.uint8)
    blobs[:, 6:22, 9:19] = rng.integers(0, 256, [200, 16, 10])
    return blobs


@pytest.fixture(scope='module')
def mnist_scenes(digits):
    return scenes.multi_mnist(digits, 3000, np.random.default_rng(1))


@pytest.fixture(scope='module')
def sprite_scenes():
    return scenes.sprites(3000, np.random.default_rng(2))


@pytest.mark.parametrize('which', ['mnist', 'sprites'])
def test_counts_are_uniform_over_zero_one_two(which, mnist_scenes, sprite_scenes):
    counts = (mnist_scenes if which == 'mnist' else sprite_scenes)[1]
    frequency = np.bincount(counts, minlength=3) / len(counts)
    assert set(np.unique(counts)) == {0, 1, 2}
    # Binomial standard error for 3,000 scenes is 0.0086; allow about 4 of them.
    np.testing.assert_allclose(frequency, 1 / 3, atol=0.035)


@pytest.mark.parametrize('which', ['mnist', 'sprites'])
def test_every_box_holds_all_pixels_of_the_scene_and_absent_boxes_are_zero(
        which, mnist_scenes, sprite_scenes):
    images, counts, boxes = mnist_scenes if which == 'mnist' else sprite_scenes
    assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1
    for i in range(len(counts)):
        inside = np.zeros([50, 50], bool)
        for y0, x0, y1, x1 in boxes[i, :counts[i]].astype(int):
            assert 0 <= y0 < y1 <= 50 and 0 <= x0 < x1 <= 50
            inside[y0:y1, x0:x1] = True
        assert not np.any(images[i][~inside] > 0)
        assert not np.any(boxes[i, counts[i]:])


@pytest.mark.skipif(not os.path.exists(SHARED_MNIST), reason='no MNIST files on this machine')
def test_real_mnist_scenes_keep_every_digit_inside_its_box():
    digits = load_mnist_digits(mnist_image_paths(SHARED_MNIST, download=False)['test'])[:2000]
    images, counts, boxes = scenes.multi_mnist(digits, 500, np.random.default_rng(4))
    assert images.max() <= 1.0 and set(np.unique(counts)) == {0, 1, 2}
    for i in range(len(counts)):
        inside = np.zeros([50, 50], bool)
        for y0, x0, y1, x1 in boxes[i, :counts[i]].astype(int):
            inside[y0:y1, x0:x1] = True
        assert not np.any(images[i][~inside] > 0) and (counts[i] == 0) == (images[i].max() == 0)


def test_mnist_digits_never_add_up_beyond_full_intensity(digits):
    # The reference redraws a scene whose digit layers sum above 255 anywhere: no pixel of
    # a two-digit scene may exceed full intensity.
    images, counts, boxes = scenes.multi_mnist(digits, 500, np.random.default_rng(3))
    two = np.nonzero(counts == 2)[0]
    assert len(two) > 100
    assert images[two].max() <= 1.0
    sizes = boxes[:, :, 2] - boxes[:, :, 0]
    present = sizes[counts > 0][:, 0]
    # The boxes bound the ink: 16 of the blobs' 28 rows, in patches of int(28 / s) with
    # s ~ N(1.3, 0.1) (about 21.5 pixels), so about 12.3 rows, and one more of blur.
    assert 12 < present.mean() < 14.5 and present.min() >= 9 and present.max() <= 20


def test_sprites_do_not_touch_and_come_in_three_shapes_of_size_12_to_16(sprite_scenes):
    images, counts, boxes = sprite_scenes
    sizes = (boxes[:, :, 2] - boxes[:, :, 0])[boxes[:, :, 2] > 0]
    # Patches of 12-16 pixels; the circle and diamond leave their patch's first row and
    # column (and, for odd sizes, the last) empty, so their boxes are 1-2 pixels smaller.
    assert set(np.unique(sizes)) == set(range(11, 17))
    assert np.all(boxes[:, :, 2] - boxes[:, :, 0] == boxes[:, :, 3] - boxes[:, :, 1])
    assert set(np.unique(images)) == {0.0, 0.7, 0.8, 1.0} or \
        np.allclose(sorted(np.unique(images)), [0.0, 0.7, 0.8, 1.0])
    # Without overlap the lit pixels of a scene are exactly those of its two shapes, each
    # inside its own box and of one grey (the one at its box centre, which every shape
    # covers).
    for i in np.nonzero(counts == 2)[0][:300]:
        lit = 0
        for y0, x0, y1, x1 in boxes[i].astype(int):
            patch = images[i, y0:y1, x0:x1]
            lit += np.count_nonzero(patch == patch[(y1 - y0) // 2, (x1 - x0) // 2])
        (a0, b0, a1, b1), (c0, d0, c1, d1) = boxes[i]
        if min(a1, c1) <= max(a0, c0) or min(b1, d1) <= max(b0, d0):  # boxes apart
            assert np.count_nonzero(images[i]) == lit
    # The square fills its box, the circle and diamond do not.
    fill = [images[i, y0:y1, x0:x1].astype(bool).mean()
            for i in np.nonzero(counts == 1)[0][:300]
            for y0, x0, y1, x1 in [boxes[i, 0].astype(int)]]
    grey = [images[i][images[i] > 0][0] for i in np.nonzero(counts == 1)[0][:300]]
    by_grey = {g: np.mean([f for f, gg in zip(fill, grey, strict=True) if np.isclose(gg, g)])
               for g in (1.0, 0.8, 0.7)}
    assert by_grey[0.8] == 1.0 and 0.8 < by_grey[1.0] < 0.95 and 0.4 < by_grey[0.7] < 0.6


def clipped_normal_moments(mu, sigma):
    """Mean and std of clip(N(mu, sigma), 0, 1) by quadrature."""
    z = np.linspace(mu - 10 * sigma, mu + 10 * sigma, 200001)
    pdf = np.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    y = np.clip(z, 0, 1)
    mean = np.trapezoid(y * pdf, z)
    return mean, math.sqrt(np.trapezoid((y - mean) ** 2 * pdf, z))


def test_noisy_background_matches_the_clipped_normal():
    noisy = scenes.add_noise(np.zeros([200, 50, 50], np.float32), np.random.default_rng(4))
    mean, std = clipped_normal_moments(0.1, 0.2)
    assert noisy.mean() == pytest.approx(mean, abs=2e-3)
    assert noisy.std() == pytest.approx(std, abs=2e-3)
    bright = scenes.add_noise(np.ones([50, 50, 50], np.float32), np.random.default_rng(5))
    assert bright.mean() == pytest.approx(clipped_normal_moments(0.9, 0.2)[0], abs=2e-3)


def test_grid_lines_have_period_five_and_digits_stay_on_top(mnist_scenes):
    images = mnist_scenes[0][:400]
    gridded = scenes.add_grid(images, np.random.default_rng(6))
    assert np.all(gridded >= images)
    np.testing.assert_array_equal(gridded[gridded > 0.4], images[gridded > 0.4])
    for scene in gridded:
        lines = scene >= 0.4
        full_rows = np.nonzero(lines.all(axis=1))[0]
        full_cols = np.nonzero(lines.all(axis=0))[0]
        assert len(full_rows) == 10 and len(full_cols) == 10
        assert np.all(np.diff(full_rows) == 5) and np.all(np.diff(full_cols) == 5)
        assert full_rows[0] < 5 and full_cols[0] < 5


@pytest.mark.parametrize('suffix', ['', '.gz'])
def test_idx_round_trip_raw_and_gzip(tmp_path, suffix):
    array = np.random.default_rng(7).integers(0, 256, [5, 28, 28]).astype(np.uint8)
    path = str(tmp_path / ('digits-idx3-ubyte' + suffix))
    write_idx(path, array)
    np.testing.assert_array_equal(read_idx(path), array)


def test_truncated_idx_file_stops_with_one_line_naming_it(tmp_path):
    path = str(tmp_path / 'train-images-idx3-ubyte')
    write_idx(path, np.zeros([5, 28, 28], np.uint8))
    with open(path, 'r+b') as f:
        f.truncate(4 + 12 + 28 * 28 * 3)
    with pytest.raises(DatasetError, match='train-images-idx3-ubyte.*truncated') as error:
        read_idx(path)
    assert '\n' not in str(error.value)


def test_corrupt_gzip_stops_with_one_line_naming_it(tmp_path):
    path = str(tmp_path / 't10k-images-idx3-ubyte.gz')
    write_idx(path, np.zeros([5, 28, 28], np.uint8))
    data = bytearray(open(path, 'rb').read())
    data[20:40] = b'\xff' * 20
    open(path, 'wb').write(bytes(data))
    with pytest.raises(DatasetError, match='t10k-images-idx3-ubyte.gz is corrupt') as error:
        read_idx(path)
    assert '\n' not in str(error.value)


def test_md5_mismatch_is_reported_and_match_accepted(tmp_path):
    # RFC 1321's test suite: md5 of the empty string and of 'abc'.
    empty, abc = str(tmp_path / 'empty.gz'), str(tmp_path / 'abc.gz')
    open(empty, 'wb').close()
    open(abc, 'wb').write(b'abc')
    assert md5sum(empty) == 'd41d8cd98f00b204e9800998ecf8427e'
    verify_md5(abc, '900150983cd24fb0d6963f7d28e17f72')
    with pytest.raises(DatasetError, match='md5'):
        verify_md5(abc, 'd41d8cd98f00b204e9800998ecf8427e')


def test_missing_mnist_offline_says_which_files_to_put_where(tmp_path):
    with pytest.raises(DatasetError, match=r'put train-images-idx3-ubyte.gz, '
                                           r't10k-images-idx3-ubyte.gz there') as error:
        load_dataset('mnist', data_dir=str(tmp_path), mnist_dir=str(tmp_path / 'none'),
                     download=False)
    assert str(tmp_path / 'none') in str(error.value)


def test_built_sets_are_cached_atomically_and_read_back(tmp_path, monkeypatch):
    train, test = load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(80, 20))
    assert train.images.shape == (80, 50, 50, 1) and len(test) == 20
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].endswith('.npz') and 'seed3' in files[0]
    def no_rebuild(*args, **kwargs):
        raise AssertionError('the cached set was built again instead of read')

    monkeypatch.setattr(core, '_build', no_rebuild)
    again, _ = load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(80, 20))
    np.testing.assert_array_equal(again.images, train.images)
    monkeypatch.undo()
    other, _ = load_dataset('sprites', data_dir=str(tmp_path), seed=4, sizes=(80, 20))
    assert not np.array_equal(other.images, train.images)
    batch = next(iter(train.to_tf_dataset(batch_size=16, shuffle=True, seed=0)))
    assert batch['images'].shape == (16, 50, 50, 1) and batch['boxes'].shape == (16, 2, 4)


@pytest.mark.parametrize('damage', ['truncate', 'garbage', 'wrong_keys', 'wrong_sizes',
                                    'wrong_values'])
def test_a_damaged_cache_is_reported_and_built_again(tmp_path, capsys, damage):
    """Also a file with the right name and keys whose sizes or values are not what the
    data set's parameters make (40 + 10 Sprites scenes in [0, 1])."""
    def load():
        return load_dataset('sprites', data_dir=str(tmp_path), seed=5, sizes=(40, 10))[0]
    train = load()
    (path,) = tmp_path.glob('*.npz')
    assert oct(path.stat().st_mode & 0o777) == '0o644'
    if damage == 'truncate':
        path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    elif damage == 'garbage':
        path.write_bytes(b'not a zip file at all' * 100)
    elif damage == 'wrong_keys':
        np.savez(path, something=np.zeros(3))
    else:
        with np.load(path) as f:
            arrays = dict(f)
        if damage == 'wrong_sizes':
            arrays = {k: v[:7] if v.ndim else v for k, v in arrays.items()}
        else:
            arrays['train_images'] = arrays['train_images'] * 255.0
        np.savez(path, **arrays)
    again = load()
    assert 'is damaged' in capsys.readouterr().out
    np.testing.assert_array_equal(again.images, train.images)
    load()
    assert 'is damaged' not in capsys.readouterr().out  # rebuilt and saved


def test_digit_pool_is_the_number_of_digits_the_mnist_files_hold(tmp_path):
    rng = np.random.default_rng(0)
    for name, n in (('train-images-idx3-ubyte.gz', 37), ('t10k-images-idx3-ubyte', 11)):
        write_idx(str(tmp_path / name), rng.integers(0, 256, [n, 28, 28]))
    paths = mnist_image_paths(str(tmp_path), download=False)
    pool = digit_pool('noisy_mnist', data_dir=str(tmp_path), mnist_dir=str(tmp_path))
    assert pool == [len(load_mnist_digits(paths[s])) for s in ('train', 'test')] == [37, 11]
    assert digit_pool('sprites', mnist_dir='/nonexistent') is None
    assert digit_pool('npz:/nonexistent/scenes.npz') is None
    with open(tmp_path / 't10k-images-idx3-ubyte', 'wb') as f:
        f.write(b'\x01\x02')
    with pytest.raises(DatasetError, match='not an IDX file'):
        digit_pool('mnist', mnist_dir=str(tmp_path))


def test_download_skips_a_dead_mirror_takes_a_good_file_and_refuses_a_bad_one(tmp_path,
                                                                            monkeypatch):
    """A server on 127.0.0.1 serves IDX files made here; the first mirror is a closed
    port. No internet needed."""
    import functools
    import http.server
    import socket
    import threading

    from datasets import mnist

    served = tmp_path / 'served'
    served.mkdir()
    rng = np.random.default_rng(0)
    digits = {name: rng.integers(0, 256, (n, 28, 28)) for name, n in
              (('train-images-idx3-ubyte.gz', 30), ('t10k-images-idx3-ubyte.gz', 10))}
    for name, array in digits.items():
        write_idx(str(served / name), array)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    try:
        monkeypatch.setattr(mnist, 'MIRRORS', (f'http://127.0.0.1:{dead_port}/',
                                               f'http://127.0.0.1:{server.server_port}/'))
        official = {name: md5sum(str(served / name)) for name in digits}
        # The test file as served is not the official one: refused in one line.
        monkeypatch.setattr(mnist, 'OFFICIAL_MD5',
                            {**official, 't10k-images-idx3-ubyte.gz': '0' * 32})
        target = tmp_path / 'mnist'
        with pytest.raises(DatasetError) as error:
            mnist_image_paths(str(target))
        message = str(error.value)
        assert '\n' not in message and 'unreachable' in message
        assert f"md5 {official['t10k-images-idx3-ubyte.gz']}, not the official {'0' * 32}" \
            in message
        assert sorted(os.listdir(target)) == ['train-images-idx3-ubyte.gz']  # no .part left
        # With the right md5 both are taken, and read back as served.
        monkeypatch.setattr(mnist, 'OFFICIAL_MD5', official)
        paths = mnist_image_paths(str(target))
        for split, name in (('train', 'train-images-idx3-ubyte.gz'),
                            ('test', 't10k-images-idx3-ubyte.gz')):
            np.testing.assert_array_equal(read_idx(paths[split]), digits[name])
    finally:
        server.shutdown()


@pytest.mark.parametrize('kind', ['mnist', 'sprites'])
def test_ground_truth_boxes_bound_exactly_what_each_object_draws(kind):
    """In scenes of one object, no pixel is drawn outside its box and each of the box's
    border rows and columns holds a drawn pixel."""
    rng = np.random.default_rng(5)
    if kind == 'mnist':  # digits with margins, as MNIST's: ink in the middle of 28 x 28
        digits = np.zeros([20, 28, 28], np.uint8)
        for d in digits:
            top, left = rng.integers(3, 9, 2)
            d[top:top + rng.integers(10, 17), left:left + rng.integers(6, 15)] = 200
        images, counts, boxes = scenes.multi_mnist(digits, 300, rng)
    else:
        images, counts, boxes = scenes.sprites(300, rng)
    checked = 0
    for image, count, box in zip(images, counts, boxes, strict=True):
        if count != 1:
            continue
        ink = np.squeeze(image) > 0
        y0, x0, y1, x1 = box[0].astype(int)
        inside = np.zeros_like(ink)
        inside[y0:y1, x0:x1] = True
        assert not np.any(ink & ~inside)
        for line in (ink[y0], ink[y1 - 1], ink[:, x0], ink[:, x1 - 1]):
            assert line.any()
        checked += 1
    assert checked > 50


def test_a_cache_whose_content_changed_is_built_again(tmp_path, capsys):
    """Right shapes, dtypes and ranges, wrong values (images at half brightness): the
    digest written with the arrays tells, and the set is built again; all-zero images
    with their digest recomputed: the objects' boxes hold no ink."""
    train, _ = load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(80, 20))
    (path,) = [os.path.join(tmp_path, f) for f in os.listdir(tmp_path)]
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays['train_images'] = 0.5 * arrays['train_images']
    np.savez(path, **arrays)
    again, _ = load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(80, 20))
    assert 'does not match the digest' in capsys.readouterr().out
    np.testing.assert_array_equal(again.images, train.images)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays['test_images'] = np.zeros_like(arrays['test_images'])
    arrays['digest'] = core.content_digest(arrays)
    np.savez(path, **arrays)
    again, test = load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(80, 20))
    assert 'test scene ' in capsys.readouterr().out
    assert test.images.max() > 0


def test_a_killed_builds_leftover_goes_and_a_live_one_stays(tmp_path):
    old, live = tmp_path / 'tmpold.npz.part', tmp_path / 'tmplive.npz.part'
    for part in (old, live):
        part.write_bytes(b'half a cache')
    os.utime(old, (time.time() - 2 * core.STALE_PART_SECONDS,) * 2)
    load_dataset('sprites', data_dir=str(tmp_path), seed=3, sizes=(40, 10))
    assert not old.exists() and live.exists()


@pytest.mark.parametrize('name', ['mnist', 'sprites'])
def test_held_out_counts_appear_only_in_the_test_scenes_each_count_equally_often(
        name, tmp_path):
    mnist_dir = tmp_path / 'mnist'
    mnist_dir.mkdir()
    for part in ('train', 't10k'):
        write_idx(str(mnist_dir / f'{part}-images-idx3-ubyte'), np.full([40, 28, 28], 100,
                                                                       np.uint8))
    split = core.SplitCounts(train=(0, 1, 3), heldout=(2,))
    train, test = load_dataset(name, data_dir=str(tmp_path), mnist_dir=mnist_dir,
                               sizes=(1200, 800), split_counts=split)
    train_hist, test_hist = (np.bincount(s.counts, minlength=4) for s in (train, test))
    assert train_hist[2] == 0 and all(abs(train_hist[c] - 400) < 70 for c in (0, 1, 3))
    assert all(abs(test_hist[c] - 200) < 50 for c in range(4))
    assert train.boxes.shape[1] == 3 and test.heldout_counts == (2,)
    # Every object drawn, no more: a scene of c objects has c boxes.
    assert np.array_equal((test.boxes[..., 2] > 0).sum(1), test.counts)
    # Held-out counts are part of the cache's name: the plain set is another file.
    plain, _ = load_dataset(name, data_dir=str(tmp_path), mnist_dir=mnist_dir,
                            sizes=(1200, 800))
    assert plain.counts.max() == 2 and len(os.listdir(tmp_path)) == 3  # two sets, mnist/
    again, _ = load_dataset(name, data_dir=str(tmp_path), mnist_dir=mnist_dir,
                            sizes=(1200, 800), split_counts=split)
    np.testing.assert_array_equal(again.images, train.images)


@pytest.mark.parametrize('split, max_objects, words', [
    (core.SplitCounts((0, 1, 2), (2,)), None, 'repeat a count'),
    (core.SplitCounts((0, 1, 2), (3,)), 2, 'within 0 and max_objects (2)'),
    (core.SplitCounts((), (3,)), None, 'names no count')])
def test_counts_that_cannot_be_drawn_stop_in_one_line(split, max_objects, words, tmp_path):
    with pytest.raises(DatasetError, match=re.escape(words)):
        load_dataset('sprites', data_dir=str(tmp_path), sizes=(10, 10), split_counts=split,
                     max_objects=max_objects)


def test_many_digits_are_placed_one_at_a_time_and_an_impossible_scene_says_its_sizes(
        digits, monkeypatch):
    images, counts, boxes = scenes.multi_mnist(digits, 200, np.random.default_rng(6),
                                               canvas=128, max_objects=9)
    assert images.max() <= 1.0 and set(counts) == set(range(10))
    assert np.array_equal((boxes[..., 2] > 0).sum(1), counts)   # a box for every digit
    monkeypatch.setattr(scenes, 'OBJECT_TRIES', 50)   # fewer tries, the same verdict
    monkeypatch.setattr(scenes, 'SCENE_TRIES', 3)
    full = np.full([5, 28, 28], 255, np.uint8)     # any two overlapping digits overflow
    with pytest.raises(DatasetError, match='on a 40 x 40 scene'):
        scenes.multi_mnist(full, 20, np.random.default_rng(1), canvas=40, max_objects=9)
    with pytest.raises(DatasetError, match='sprites on a 32 x 32 scene'):
        scenes.sprites(50, np.random.default_rng(1), canvas=32, max_objects=9)
