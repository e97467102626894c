"""A finished SuPAIR run's model, for the scripts that study one (count_terms.py,
average_screen.py)."""

import json
import os

import tensorflow as tf

from shared.run_folder import RunFolder
from supair_tf import Supair
from supair_tf.config import SupairConfig


def load_model(run_dir):
    """The run's model at its newest checkpoint, its settings and that checkpoint's path."""
    settings = json.load(open(os.path.join(run_dir, 'settings.json')))
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in settings['config'].items()}
    model = Supair(SupairConfig(**fields), seed=settings['seed'], jit_compile=False)
    path = RunFolder(run_dir).checkpoints()[-1]
    tf.train.Checkpoint(model=model).read(path).expect_partial()
    return model, settings, path
