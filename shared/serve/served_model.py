"""A run as the page shows it: its SavedModel (through the exported functions only), its
model card, settings and learning curve, and its test scenes (loaded in the background)."""

import csv
import json
import os
import threading

import numpy as np
import tensorflow as tf

from datasets import DatasetError, SplitCounts, load_dataset
from datasets.scenes import CANVAS
from shared.model_card import CARD
from shared.run_folder import RunFolderError, flat_settings

CURVE_COLUMNS = ('step', 'test_count_acc', 'elbo')


class ServeError(Exception):
    """A run folder the page cannot serve; one line says why."""


def read_json(path):
    """The JSON object in ``path``, or None where there is none that reads."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def learning_curve(run_dir):
    """metrics.csv's rows as ``{column: [numbers]}`` for CURVE_COLUMNS (empty lists where
    the run has no metrics yet)."""
    curve = {name: [] for name in CURVE_COLUMNS}
    try:
        with open(os.path.join(run_dir, 'metrics.csv')) as f:
            for row in csv.DictReader(f):
                for name in CURVE_COLUMNS:
                    value = row.get(name)
                    curve[name].append(float(value) if value not in (None, '') else None)
    except (OSError, ValueError):
        pass
    return curve


def scene_shape_of(card, settings):
    """(H, W, C) the model takes: from its card's serving contract, else the run's config."""
    if card:
        return tuple(card['serving']['detect']['input']['shape'][1:])
    if settings:
        config = settings['config']
        return config['scene_height'], config['scene_width'], config['channels']
    raise ServeError('the SavedModel has no model card and its run folder no settings.json: '
                     'the page cannot tell the scene size')


class ServedModel:
    """The SavedModel of a run folder (``export_dir``: where run.py exported it)."""

    def __init__(self, run_dir, export_dir):
        if not os.path.isfile(os.path.join(export_dir, 'saved_model.pb')):
            raise ServeError(f'no SavedModel in {export_dir}: train the run first, or export '
                             'its newest checkpoint with --mode=export')
        self.run_dir = run_dir
        self.card = read_json(os.path.join(export_dir, 'assets.extra', CARD))
        self.settings = read_json(os.path.join(run_dir, 'settings.json'))
        self.shape = scene_shape_of(self.card, self.settings)
        self.module = tf.saved_model.load(export_dir)
        self.missing = [name for name in ('reconstruct',) if not hasattr(self.module, name)]
        self.label = (self.card or self.settings or {}).get('model', 'unknown model')
        self._lock = threading.Lock()   # one inference at a time; the page sends one anyway

    def detect(self, pixels):
        """The exported ``detect`` of one scene ``[H, W, C]`` in [0, 1], as plain numbers."""
        with self._lock:
            out = self.module.detect(tf.constant(pixels[None], tf.float32))
        return {'count': int(out['count'][0]), 'z_pres': out['z_pres'][0].numpy().tolist(),
                'boxes': out['boxes'][0].numpy().tolist()}

    def infer(self, pixels):
        """``detect``'s answer and, where the SavedModel has it, the reconstruction (uint8
        values of the scene's shape, flattened)."""
        answer = self.detect(pixels)
        if 'reconstruct' not in self.missing:
            with self._lock:
                recon = self.module.reconstruct(tf.constant(pixels[None], tf.float32))[0]
            answer['reconstruction'] = to_bytes(recon.numpy()).ravel().tolist()
        return answer

    def info(self):
        """What the page shows beside the scene: the model, its shape, what it lacks, its
        settings and learning curve."""
        settings = {}
        if self.settings:
            try:
                settings = flat_settings(self.settings)
            except (KeyError, RunFolderError):
                settings = dict(self.settings)
        test = (self.card or {}).get('test', {})
        return {'model': self.label, 'shape': list(self.shape), 'missing': self.missing,
                'steps': int(self.card['serving']['detect']['output']['z_pres'][1])
                if self.card else None,
                'test_count_accuracy': test.get('count_accuracy'),
                'step': (self.card or {}).get('step'),
                'settings': {k: v for k, v in sorted(settings.items())},
                'curve': learning_curve(self.run_dir)}


def to_bytes(images):
    """Images in [0, 1] as uint8 (rounded)."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


class TestScenes:
    """The run's test scenes, loaded once in a background thread from its settings (the data
    set, its seed and sizes), so that the page starts at once; ``draw`` picks one."""

    def __init__(self, settings, data_dir, mnist_dir, download):
        self.scenes, self.problem = None, 'the test scenes are still loading'
        self._rng = np.random.default_rng()
        self._thread = threading.Thread(
            target=self._load, args=(settings, data_dir, mnist_dir, download), daemon=True)
        self._thread.start()

    def _load(self, settings, data_dir, mnist_dir, download):
        if not settings or not settings.get('dataset'):
            self.problem = 'the run folder names no data set (settings.json) to draw from'
            return
        size = settings['config']['scene_height']
        counts = settings.get('train_counts')
        try:
            _, self.scenes = load_dataset(
                settings['dataset'], data_dir=data_dir, mnist_dir=mnist_dir,
                seed=settings.get('data_seed', 42), download=download,
                max_objects=settings.get('max_objects'),
                scene_size=None if size == CANVAS or settings['dataset'].startswith('npz:')
                else size,
                sizes=settings.get('scenes'),
                split_counts=SplitCounts(tuple(counts), tuple(settings.get('heldout_counts')
                                                              or ())) if counts else None)
            self.problem = None
        except (DatasetError, OSError, ValueError) as e:
            self.problem = f'no test scenes: {e}'

    def draw(self):
        """``(scene [H, W, C] in [0, 1], its true count or None, its index)``, or raises
        ServeError."""
        if self.scenes is None:
            raise ServeError(self.problem)
        i = int(self._rng.integers(len(self.scenes)))
        counts = self.scenes.counts   # None: an .npz of unlabelled scenes
        return self.scenes.images[i], None if counts is None else int(counts[i]), i
