"""load_dataset: the four benchmark sets, built once and cached as .npz."""

import dataclasses
import os
import tempfile

import numpy as np

from datasets import scenes
from datasets.errors import DatasetError
from datasets.mnist import load_mnist_digits, mnist_image_paths

DATASETS = ('mnist', 'sprites', 'noisy_mnist', 'grid_mnist')
# Bump when a builder changes what it makes, so that old caches are not read back.
BUILDER_VERSION = 1
SIZES = {'mnist': (60000, 10000), 'sprites': (40000, 10000)}  # Sprites: 50,000 split 80/20


@dataclasses.dataclass
class SceneSet:
    """Scenes of one split with their object counts and ground-truth boxes."""
    images: np.ndarray  # [N, 50, 50, 1] float32 in [0, 1]
    counts: np.ndarray  # [N] int32
    boxes: np.ndarray   # [N, 2, 4] float32 (y0, x0, y1, x1) pixels, zero for absent objects

    def __len__(self):
        return len(self.counts)

    def subset(self, n):
        """The first ``n`` scenes."""
        return SceneSet(self.images[:n], self.counts[:n], self.boxes[:n])

    def to_tf_dataset(self, batch_size=256, shuffle=True, seed=0, drop_remainder=False):
        """A prefetched ``tf.data`` pipeline of dicts with images, counts and boxes."""
        import tensorflow as tf
        ds = tf.data.Dataset.from_tensor_slices(
            {'images': self.images, 'counts': self.counts, 'boxes': self.boxes})
        if shuffle:
            ds = ds.shuffle(len(self), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _resolve_mnist_dir(data_dir, mnist_dir):
    return os.path.expanduser(mnist_dir or os.environ.get('SUPAIR_MNIST_DIR')
                              or os.path.join(data_dir, 'mnist'))


def _build(name, rng, mnist_paths):
    n_train, n_test = SIZES['sprites' if name == 'sprites' else 'mnist']
    if name == 'sprites':
        images, counts, boxes = scenes.sprites(n_train + n_test, rng)
        train = images[:n_train], counts[:n_train], boxes[:n_train]
        test = images[n_train:], counts[n_train:], boxes[n_train:]
        return train, test
    train = scenes.multi_mnist(load_mnist_digits(mnist_paths['train']), n_train, rng)
    test = scenes.multi_mnist(load_mnist_digits(mnist_paths['test']), n_test, rng)
    if name == 'mnist':
        return train, test
    background = scenes.add_noise if name == 'noisy_mnist' else scenes.add_grid
    return [(background(images, rng), counts, boxes) for images, counts, boxes in (train, test)]


def _cache_name(name, seed, mnist_paths):
    key = f'{name}_v{BUILDER_VERSION}_seed{seed}_canvas{scenes.CANVAS}_max{scenes.MAX_OBJECTS}'
    key += '_n{}-{}'.format(*SIZES['sprites' if name == 'sprites' else 'mnist'])
    if mnist_paths:  # the digits drawn depend on the pool the MNIST files hold
        key += '_pool' + '-'.join(str(os.path.getsize(mnist_paths[s])) for s in ('train', 'test'))
    return key + '.npz'


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


def _read_cache(path):
    """The arrays of a cached data set, or None (said in one line) if the file is damaged."""
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in _CACHE_KEYS}
        if all(len(arrays[f'{s}_images']) == len(arrays[f'{s}_counts']) ==
               len(arrays[f'{s}_boxes']) > 0 for s in ('train', 'test')):
            return arrays
        problem = 'its arrays disagree in length'
    except Exception as e:  # noqa: BLE001  (zip, pickle and key errors all mean "damaged")
        problem = f'{type(e).__name__}: {e}'.splitlines()[0][:120]
    print(f'the data cache {path} is damaged ({problem}); building it again', flush=True)
    return None


def load_dataset(name, data_dir='~/.cache/supair', mnist_dir=None, seed=42, download=True):
    """Returns ``(train, test)`` SceneSets of the named benchmark, from cache if built before."""
    if name not in DATASETS:
        raise DatasetError(f'unknown dataset {name!r}; choose one of {", ".join(DATASETS)}')
    data_dir = os.path.expanduser(data_dir)
    mnist_paths = None
    if name != 'sprites':  # fail early, before any work, if the digits are missing
        mnist_paths = mnist_image_paths(_resolve_mnist_dir(data_dir, mnist_dir), download)
    path = os.path.join(data_dir, _cache_name(name, seed, mnist_paths))
    arrays = _read_cache(path) if os.path.exists(path) else None
    if arrays is None:
        train, test = _build(name, np.random.default_rng(seed), mnist_paths)
        arrays = {}
        for split, (images, counts, boxes) in (('train', train), ('test', test)):
            arrays.update({f'{split}_images': images[..., None].astype(np.float32),
                           f'{split}_counts': counts, f'{split}_boxes': boxes})
        try:
            _save_atomic(path, arrays)
        except OSError as e:
            raise DatasetError(f'cannot write the data cache {path} ({e.strerror}); '
                               'pass a writable --data_dir') from None
    return tuple(SceneSet(arrays[f'{s}_images'], arrays[f'{s}_counts'], arrays[f'{s}_boxes'])
                 for s in ('train', 'test'))
