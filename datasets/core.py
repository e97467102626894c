"""load_dataset: the four benchmark sets and colour Sprites, built once and cached as .npz,
or a user's own scenes from an .npz file (``npz:PATH``)."""

import contextlib
import dataclasses
import glob
import os
import tempfile
import time
import zlib
from typing import NamedTuple

import numpy as np

from datasets import scenes
from datasets.errors import DatasetError
from datasets.mnist import idx_count, load_mnist_digits, mnist_image_paths

DATASETS = ('mnist', 'sprites', 'noisy_mnist', 'grid_mnist', 'sprites_rgb')
NPZ_PREFIX = 'npz:'  # --dataset=npz:PATH, a user's own scenes (see load_npz)
# Bump when a builder changes what it makes, so that old caches are not read back.
BUILDER_VERSION = 2  # 2: ground-truth boxes bound the drawn pixels, not the patch
SIZES = {'mnist': (60000, 10000), 'sprites': (40000, 10000)}  # Sprites: 50,000 split 80/20
NPZ_TEST_SHARE = 0.2  # an .npz without test_images: its last 20% are the test scenes


@dataclasses.dataclass
class SceneSet:
    """Scenes of one split with their object counts and ground-truth boxes."""
    images: np.ndarray  # [N, H, W, C] float32 in [0, 1] (the paper's: [N, 50, 50, 1])
    counts: np.ndarray  # [N] int32, or None for unlabelled scenes
    boxes: np.ndarray   # [N, K, 4] float32 (y0, x0, y1, x1) pixels, zero for absent objects,
    #                     or None
    heldout_counts: tuple = ()  # counts of test scenes never seen in training (SplitCounts)

    def __len__(self):
        return len(self.images)

    def subset(self, n):
        """The first ``n`` scenes."""
        return self.select(slice(n))

    def select(self, index):
        """The scenes ``index`` (a slice or a boolean mask) picks."""
        return SceneSet(*(None if a is None else a[index]
                          for a in (self.images, self.counts, self.boxes)),
                        self.heldout_counts)

    def to_tf_dataset(self, batch_size=256, shuffle=True, seed=0, drop_remainder=False):
        """A prefetched ``tf.data`` pipeline of dicts with images, counts and boxes."""
        import tensorflow as tf
        ds = tf.data.Dataset.from_tensor_slices(
            {'images': self.images, 'counts': self.counts, 'boxes': self.boxes})
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


class SplitCounts(NamedTuple):
    """The object counts of each split (the AIR paper's generalisation tasks, its Fig. 6):
    training scenes hold only ``train`` counts, test scenes ``train`` and ``heldout``
    counts, each count of a split equally likely."""

    train: tuple
    heldout: tuple = ()

    @property
    def test(self):
        """Every count of the test scenes, in order."""
        return tuple(sorted(self.train + self.heldout))

    def problem(self, max_objects):
        """Why these counts cannot be drawn with up to ``max_objects`` objects, or None."""
        if not self.train:
            return 'train_counts names no count'
        if len(set(self.test)) < len(self.test):
            return (f'train_counts {list(self.train)} and heldout_counts '
                    f'{list(self.heldout)} repeat a count')
        if min(self.test) < 0 or max(self.test) > max_objects:
            return (f'counts must be within 0 and max_objects ({max_objects}), got '
                    f'{list(self.test)}')
        return None


def _resolve_mnist_dir(data_dir, mnist_dir):
    return os.path.expanduser(mnist_dir or os.environ.get('SUPAIR_MNIST_DIR')
                              or os.path.join(data_dir, 'mnist'))


def scene_counts(name, sizes=None):
    """``(train, test)`` numbers of scenes of a built-in data set: ``sizes`` or the paper's."""
    return tuple(sizes or SIZES['sprites' if name.startswith('sprites') else 'mnist'])


def _build(name, rng, mnist_paths, shape, sizes=None, split=None):
    """``[(images, counts, boxes)]`` of the training and test scenes; ``split``: their
    SplitCounts."""
    n_train, n_test = scene_counts(name, sizes)
    if name.startswith('sprites'):
        colour = name == 'sprites_rgb'
        if split is not None:  # each split from its counts, the test scenes after
            return [scenes.sprites(n, rng, **shape, colour=colour, allowed=allowed)
                    for n, allowed in ((n_train, split.train), (n_test, split.test))]
        images, counts, boxes = scenes.sprites(n_train + n_test, rng, **shape, colour=colour)
        train = images[:n_train], counts[:n_train], boxes[:n_train]
        test = images[n_train:], counts[n_train:], boxes[n_train:]
        return train, test
    train, test = (scenes.multi_mnist(load_mnist_digits(mnist_paths[part]), n, rng, **shape,
                                      allowed=split and getattr(split, part))
                   for part, n in (('train', n_train), ('test', n_test)))
    if name == 'mnist':
        return train, test
    background = scenes.add_noise if name == 'noisy_mnist' else scenes.add_grid
    return [(background(images, rng), counts, boxes) for images, counts, boxes in (train, test)]


def _cache_name(name, seed, mnist_paths, shape=None, sizes=None, split=None):
    shape = shape or {'canvas': scenes.CANVAS, 'max_objects': scenes.MAX_OBJECTS}
    key = f'{name}_v{BUILDER_VERSION}_seed{seed}_canvas{shape["canvas"]}'
    key += f'_max{shape["max_objects"]}_n{{}}-{{}}'.format(*scene_counts(name, sizes))
    if shape['max_objects'] >= scenes.PLACE_ALONE_FROM and not name.startswith('sprites'):
        key += '_alone'  # digits placed one at a time (scenes.multi_mnist)
    if split is not None:
        key += '_counts{}_heldout{}'.format(*('-'.join(map(str, c)) or 'none' for c in split))
    if mnist_paths:  # the digits drawn depend on the pool the MNIST files hold
        key += '_pool' + '-'.join(str(os.path.getsize(mnist_paths[s])) for s in ('train', 'test'))
    return key + '.npz'


STALE_PART_SECONDS = 3600  # a half-written cache this old is a killed build's, not a live one


def _clear_stale_parts(data_dir):
    """Removes what killed builds left (``*.npz.part``); a younger one may be another
    process's build in progress, and stays."""
    for part in glob.glob(os.path.join(data_dir, '*.npz.part')):
        with contextlib.suppress(OSError):
            if time.time() - os.path.getmtime(part) > STALE_PART_SECONDS:
                os.remove(part)


def _save_atomic(path, arrays):
    """Writes to a temporary name and renames, so an interrupted build is never read back."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix='.npz.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is for every user
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


_CACHE_KEYS = [f'{split}_{part}' for split in ('train', 'test')
               for part in ('images', 'counts', 'boxes')]


def content_digest(arrays):
    """A checksum (CRC-32) of the cached arrays' bytes, in their fixed order: written with
    them and checked on reading, so a file whose content changed (right shapes, wrong
    values) is built again. About half a second a gigabyte (measured beside two training
    runs), against 5-16 s to build a set."""
    crc = 0
    for key in _CACHE_KEYS:
        crc = zlib.crc32(np.ascontiguousarray(arrays[key]).view(np.uint8), crc)
    return np.uint32(crc)


def _cache_problem(arrays, name, shape, sizes=None, split_counts=None):
    """Why cached arrays are not what ``name`` with ``shape`` builds, or None: the sizes,
    scene shape, dtypes, value ranges and counts (``split_counts``) its parameters imply,
    and the digest written with them."""
    channels = 3 if name == 'sprites_rgb' else 1
    canvas, most = shape['canvas'], shape['max_objects']
    for split, n in zip(('train', 'test'), scene_counts(name, sizes), strict=True):
        images, counts, boxes = (arrays[f'{split}_{part}'] for part in
                                 ('images', 'counts', 'boxes'))
        expected = {'images': (n, canvas, canvas, channels), 'counts': (n,),
                    'boxes': (n, most, 4)}
        for part, array in (('images', images), ('counts', counts), ('boxes', boxes)):
            if array.shape != expected[part]:
                return f'{split}_{part} is {list(array.shape)}, not {list(expected[part])}'
        if images.dtype != np.float32 or not (np.all(np.isfinite(images)) and
                                              images.min() >= 0 and images.max() <= 1):
            return f'{split}_images are not float32 in [0, 1]'
        if not np.issubdtype(counts.dtype, np.integer) or counts.min() < 0 or \
                counts.max() > most:
            return f'{split}_counts are not integers in 0..{most}'
        allowed = split_counts and getattr(split_counts, split)
        if allowed and not np.isin(counts, allowed).all():
            return f'{split}_counts hold others than {list(allowed)}'
        if not (np.all(np.isfinite(boxes)) and boxes.min() >= 0 and boxes.max() <= canvas):
            return f'{split}_boxes are not pixel positions in [0, {canvas}]'
        if (problem := _inkless_box(images, counts, boxes)) is not None:
            return f'{split} {problem}'
    return None


def _inkless_box(images, counts, boxes, scenes_checked=500):
    """'scene i: no ink in the box of object j' for the first of the first
    ``scenes_checked`` scenes holding objects where an object's box ``(y0, x0, y1, x1)``
    holds no drawn pixel, or None. Cheap (a few thousand boxes); it catches images
    replaced or zeroed after the digest was recomputed, not every changed pixel."""
    for i in np.flatnonzero(counts > 0)[:scenes_checked]:
        for j, (y0, x0, y1, x1) in enumerate(boxes[i, :counts[i]]):
            patch = images[i, int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
            if patch.size == 0 or patch.max() <= 0:
                return f'scene {i}: no ink in the box of object {j + 1}'
    return None


def _read_cache(path, name, shape, sizes=None, split_counts=None):
    """The arrays of a cached data set, or None (said in one line) if the file is damaged or
    not what the data set's parameters make."""
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in _CACHE_KEYS}
            stored = f['digest'] if 'digest' in f.files else None
        problem = _cache_problem(arrays, name, shape, sizes, split_counts)
        if problem is None and stored != content_digest(arrays):
            problem = 'its content does not match the digest written with it'
        if problem is None:
            return arrays
    except Exception as e:  # noqa: BLE001  (zip, pickle and key errors all mean "damaged")
        problem = f'{type(e).__name__}: {e}'.splitlines()[0][:120]
    print(f'the data cache {path} is damaged ({problem}); building it again', flush=True)
    return None


def load_dataset(name, data_dir='~/.cache/supair', mnist_dir=None, seed=42, download=True,
                 max_objects=None, scene_size=None, sizes=None, split_counts=None):
    """Returns ``(train, test)`` SceneSets of the named data set: a built-in one (from cache
    if built before; ``max_objects`` and ``scene_size`` change its scenes from the paper's
    0-2 objects on 50 x 50, ``sizes = (train, test)`` its numbers of scenes from SIZES,
    ``split_counts`` (SplitCounts) the counts of each split, up to their largest unless
    ``max_objects`` says more), or ``npz:PATH`` (load_npz)."""
    if name.startswith(NPZ_PREFIX):
        if (max_objects, scene_size, sizes, split_counts) != (None,) * 4:
            raise DatasetError('max_objects and scene_size are for the built-in data sets (and '
                               'so are scenes and the split counts); an .npz file brings its '
                               'own scenes')
        return load_npz(name[len(NPZ_PREFIX):])
    if name not in DATASETS:
        raise DatasetError(f'unknown dataset {name!r}; choose one of {", ".join(DATASETS)}, '
                           f'or {NPZ_PREFIX}PATH for your own scenes')
    if max_objects is None:
        max_objects = max(split_counts.test) if split_counts else scenes.MAX_OBJECTS
    shape = {'canvas': scene_size or scenes.CANVAS, 'max_objects': max_objects}
    if split_counts and (problem := split_counts.problem(max_objects)):
        raise DatasetError(problem)
    if shape['max_objects'] < 1 or shape['canvas'] < 32:
        raise DatasetError(f'max_objects must be >= 1 and scene_size >= 32 (a digit is up to '
                           f'31 pixels wide), got {shape["max_objects"]} and {shape["canvas"]}')
    if sizes is not None and (len(sizes) != 2 or min(sizes) < 1):
        raise DatasetError(f'scenes takes two positive numbers, train,test; got {sizes}')
    data_dir = os.path.expanduser(data_dir)
    mnist_paths = None
    if not name.startswith('sprites'):  # fail early, before any work, if digits are missing
        mnist_paths = mnist_image_paths(_resolve_mnist_dir(data_dir, mnist_dir), download)
    _clear_stale_parts(data_dir)
    path = os.path.join(data_dir, _cache_name(name, seed, mnist_paths, shape, sizes,
                                              split_counts))
    arrays = (_read_cache(path, name, shape, sizes, split_counts) if os.path.exists(path)
              else None)
    if arrays is None:
        train, test = _build(name, np.random.default_rng(seed), mnist_paths, shape, sizes,
                             split_counts)
        arrays = {}
        for split, (images, counts, boxes) in (('train', train), ('test', test)):
            images = images[..., None] if images.ndim == 3 else images
            arrays.update({f'{split}_images': images.astype(np.float32),
                           f'{split}_counts': counts, f'{split}_boxes': boxes})
        try:
            _save_atomic(path, {**arrays, 'digest': content_digest(arrays)})
        except OSError as e:
            raise DatasetError(f'cannot write the data cache {path} ({e.strerror}); '
                               'pass a writable --data_dir') from None
    heldout = split_counts.heldout if split_counts else ()
    return (SceneSet(arrays['train_images'], arrays['train_counts'], arrays['train_boxes']),
            SceneSet(arrays['test_images'], arrays['test_counts'], arrays['test_boxes'],
                     heldout))


def digit_pool(name, data_dir='~/.cache/supair', mnist_dir=None):
    """``[training digits, test digits]`` the MNIST files hold that a built-in data set's
    scenes are composed from, or None for Sprites and an .npz (their scenes do not depend
    on them). Reads the files' headers alone; load_dataset has found (or fetched) them."""
    if name.startswith(NPZ_PREFIX) or name.startswith('sprites'):
        return None
    paths = mnist_image_paths(_resolve_mnist_dir(os.path.expanduser(data_dir), mnist_dir),
                              download=False)
    return [idx_count(paths[split]) for split in ('train', 'test')]


def load_npz(path):
    """A user's scenes from an .npz file: ``images [N, H, W, C]`` (C = 1 or 3; uint8 0-255
    or float in [0, 1]), optional ``counts [N]`` and ``boxes [N, K, 4]`` (y0, x0, y1, x1
    in pixels) for evaluation, optional ``test_images`` (with ``test_counts``,
    ``test_boxes``); without test images the last 20% are the test split. Anything else
    stops with one line that names the file and says what is expected."""
    shown = os.path.expanduser(path)
    if not os.path.isfile(shown):
        raise DatasetError(f'no file {path}: --dataset=npz:PATH takes an .npz file of scenes')
    try:
        with np.load(shown, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001  (zip, format and pickle errors: all "unreadable")
        raise DatasetError(f'{path} is not a readable .npz file ({type(e).__name__}); save '
                           'scenes with numpy.savez(path, images=...)') from None
    if 'images' not in arrays:
        raise DatasetError(f'{path} holds no array "images" (it has: '
                           f'{", ".join(sorted(arrays)) or "none"}); expected images '
                           '[N, H, W, C] and optionally counts [N] and boxes [N, K, 4]')
    train = _npz_split(path, arrays, '')
    if 'test_images' in arrays:
        test = _npz_split(path, arrays, 'test_')
        if test.images.shape[1:] != train.images.shape[1:]:
            raise DatasetError(f'{path}: test_images {list(test.images.shape[1:])} and images '
                               f'{list(train.images.shape[1:])} differ in scene shape')
        if (test.counts is None) != (train.counts is None):
            raise DatasetError(f'{path}: counts given for only one of images and test_images')
        return train, test
    cut = len(train) - int(round(NPZ_TEST_SHARE * len(train)))
    if cut == len(train) or cut == 0:
        raise DatasetError(f'{path} holds {len(train)} scenes: at least 3 are needed to keep '
                           'the last 20% for testing, or add test_images')
    return train.select(slice(cut)), train.select(slice(cut, None))


def _npz_split(path, arrays, prefix):
    """One split of an .npz (keys with ``prefix``), checked and as float32 in [0, 1]."""
    name = f'{prefix}images'
    images = arrays[name]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not all(images.shape):
        raise DatasetError(f'{path}: {name} must be [N, H, W, C] with C = 1 or 3 and N > 0; '
                           f'got shape {list(images.shape)}')
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / 255.0
    elif np.issubdtype(images.dtype, np.floating):
        images = images.astype(np.float32)
        if not np.all(np.isfinite(images)):
            raise DatasetError(f'{path}: {name} holds NaN or inf')
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise DatasetError(f'{path}: {name} has values from {low:g} to {high:g}; expected '
                               'floats in [0, 1] or uint8 0-255')
    else:
        raise DatasetError(f'{path}: {name} is {images.dtype}; expected uint8 0-255 or '
                           'floats in [0, 1]')
    counts, boxes = arrays.get(f'{prefix}counts'), arrays.get(f'{prefix}boxes')
    if counts is not None:
        if (counts.shape != (len(images),) or not np.issubdtype(counts.dtype, np.integer)
                or counts.min() < 0):
            raise DatasetError(f'{path}: {prefix}counts must be {len(images)} integers >= 0 '
                               f'(one per scene); got {counts.dtype} {list(counts.shape)}')
        counts = counts.astype(np.int32)
    if boxes is not None:
        if counts is None:
            raise DatasetError(f'{path}: {prefix}boxes need {prefix}counts beside them')
        if (boxes.ndim != 3 or boxes.shape[0] != len(images) or boxes.shape[2] != 4
                or boxes.shape[1] < counts.max()):
            raise DatasetError(f'{path}: {prefix}boxes must be [{len(images)}, K, 4] with K at '
                               f'least the largest count ({counts.max()}); got '
                               f'{list(boxes.shape)}')
        boxes = boxes.astype(np.float32)
    elif counts is not None:  # counts alone: no IoU, count accuracy still
        boxes = np.zeros([len(images), max(int(counts.max()), 1), 4], np.float32)
        boxes[:] = np.nan
    return SceneSet(images, counts, boxes)
