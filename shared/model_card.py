"""The model card every SavedModel carries: what it is, what made it, how well it counts,
and what its ``detect`` expects (``assets.extra/model_card.json`` and a short ``README``)."""

import datetime
import json
import os
import subprocess

import numpy as np
import tensorflow as tf

from shared.version import VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CARD = 'model_card.json'


def git_commit():
    """The commit of this code's checkout (with ``+changes`` when it has uncommitted
    changes), or None outside a git checkout."""
    try:
        commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ('+changes' if dirty.strip() else '')


def _plain(value):
    """JSON-ready: numpy scalars and arrays as Python numbers and lists, NaN as None."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return value


def model_card(model, settings, step, result):
    """The card of ``model`` at ``step``: its settings (as in settings.json), the test
    figures of ``result`` (an Evaluation), the serving contract, and provenance."""
    height, width, channels = model.config.scene_shape
    steps = model.config.steps
    z_where = len(model.detect_graph(tf.zeros([1, height, width, channels]))['z_where'][0, 0])
    return {
        'model': model.label,
        'step': int(step),
        'dataset': settings.get('dataset'),
        'settings': settings,
        'test': {'count_accuracy': _plain(result.test_count_acc),
                 'box_iou': _plain(result.test_iou), 'elbo': _plain(result.elbo),
                 'confusion_rows_true_columns_found': _plain(result.confusion),
                 **({} if result.heldout_count_acc is None else
                    {'heldout_count_accuracy': _plain(result.heldout_count_acc)}),
                 **{k: _plain(v) for k, v in result.extra.items()}},
        'serving': {
            'detect': {'input': {'shape': ['n', height, width, channels], 'dtype': 'float32',
                                 'range': [0.0, 1.0]},
                       'output': {'count': ['n'], 'z_pres': ['n', steps],
                                  'z_where': ['n', steps, z_where], 'boxes': ['n', steps, 4]},
                       'boxes': '(y0, x0, y1, x1) in pixels; a step counts where z_pres >= 0.5'},
            'elbo': {'input': 'as detect', 'output': ['n']},
            'reconstruct': {'input': 'as detect', 'output': ['n', height, width, channels]}},
        'made_by': {'supair_tf': VERSION, 'git_commit': git_commit(),
                    'tensorflow': tf.__version__,
                    'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec='seconds')},
    }


def card_text(card):
    """The card in a few lines for people (the ``README`` beside it)."""
    test, detect = card['test'], card['serving']['detect']
    shape = ', '.join(str(d) for d in detect['input']['shape'])
    def figure(value, form):
        return 'not measured' if value is None else form.format(value)

    return '\n'.join([
        f"{card['model']} trained on {card['dataset']} to step {card['step']}.",
        f"Test count accuracy {figure(test['count_accuracy'], '{:.2%}')}, box IoU "
        f"{figure(test['box_iou'], '{:.3f}')}, ELBO {figure(test['elbo'], '{:.1f}')}.",
        f'detect(images): images float32 in [0, 1], shape [{shape}]; returns count, z_pres, '
        'z_where, boxes (y0, x0, y1, x1 in pixels).',
        f"Made by supair-tf {card['made_by']['supair_tf']} (commit "
        f"{card['made_by']['git_commit']}), TensorFlow {card['made_by']['tensorflow']}, "
        f"{card['made_by']['date']}. Every setting: model_card.json.", ''])


def write_card(export_dir, card):
    """Writes ``assets.extra/model_card.json`` and ``assets.extra/README``."""
    folder = os.path.join(export_dir, 'assets.extra')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, CARD), 'w') as f:
        json.dump(card, f, indent=1)
    with open(os.path.join(folder, 'README'), 'w') as f:
        f.write(card_text(card))


def read_card(export_dir):
    """The model card of the SavedModel in ``export_dir``, or None (none there, or older)."""
    try:
        with open(os.path.join(export_dir, 'assets.extra', CARD)) as f:
            card = json.load(f)
        card_text(card)   # raises on a card that is not one
        return card
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_card_text(export_dir):
    """The README of the SavedModel in ``export_dir``, or None (none there, or older)."""
    card = read_card(export_dir)
    return None if card is None else card_text(card)
