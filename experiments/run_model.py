"""A finished run's model (SuPAIR or AIR), for the scripts that study one (count_terms.py,
air_count_terms.py, average_screen.py)."""

import json
import os

import tensorflow as tf

import models  # noqa: F401  (registers the kinds of model)
from shared.model_kinds import KINDS
from shared.run_folder import RunFolder


def load_model(run_dir):
    """The run's model at its newest checkpoint, its settings and that checkpoint's path."""
    settings = json.load(open(os.path.join(run_dir, 'settings.json')))
    kind = KINDS[settings.get('model', 'supair')]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings['config'].items()}
    config = type(kind.npz_default)(**fields)
    model = kind.build(config, seed=settings['seed'], jit_compile=False)
    path = RunFolder(run_dir).checkpoints()[-1]
    tf.train.Checkpoint(model=model).read(path).expect_partial()
    return model, settings, path
