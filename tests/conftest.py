"""Test-wide settings: quiet TensorFlow, two threads (the CI machine has two cores)."""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytest
import tensorflow as tf

import models  # noqa: F401  (registers SuPAIR and AIR, as run.py does)
from shared.runtime import configure
from tests.runs import SMALL, SMALL_FLAG, python, run_py

configure(2)
tf.config.threading.set_inter_op_parallelism_threads(2)


@pytest.fixture(scope='session')
def small_sprites(tmp_path_factory):
    """A data directory whose cache holds a small Sprites set (run.py takes it with
    SMALL_FLAG)."""
    data_dir = str(tmp_path_factory.mktemp('data'))
    python(f"""
import datasets.core as core
core.load_dataset('sprites', data_dir={data_dir!r}, seed=42, sizes={SMALL})
""")
    return data_dir


@pytest.fixture(scope='session')
def trained_run(small_sprites, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp('run'))
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={run_dir}', '--batch_size=16',
              '--steps_per_epoch=10', '--evals_per_epoch=2', '--dataset=sprites']
    first = run_py(*common, '--epochs=1')
    second = run_py(*common, '--epochs=2')
    return run_dir, first.stdout, second.stdout
