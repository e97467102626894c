"""run.py in a fresh process, the small Sprites set the end-to-end tests share (the
fixtures small_sprites and trained_run live in conftest.py), and MNIST files of any digits."""

import csv
import gzip
import os
import shutil
import struct
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=ROOT)

SMALL = (480, 96)  # the small Sprites set of these tests: training and test scenes
SMALL_FLAG = f'--scenes={SMALL[0]},{SMALL[1]}'
# Tests of the run folder across processes (kills, resumes) take the plain graphs: what they
# check does not depend on XLA, which would add 15-20 s of compiling to every process.
# trained_run and the SavedModel tests keep XLA, the path every real run takes.
PLAIN = '--nojit_compile'


def run_py(*args, check=True):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run.py'), *args],
                            capture_output=True, text=True, env=ENV, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f'run.py failed:\n{result.stdout}\n{result.stderr}')
    return result


def python(code):
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_metrics(run_dir):
    with open(os.path.join(run_dir, 'metrics.csv')) as f:
        return list(csv.DictReader(f))


def copy_of(trained_run, tmp_path):
    """A copy of the trained run's folder (ckpt-10, ckpt-20, the export of step 20) and the
    flags it was trained with."""
    run_dir = str(tmp_path / 'run')
    shutil.copytree(trained_run[0], run_dir)
    return run_dir, [f'--run_dir={run_dir}', '--batch_size=16', '--steps_per_epoch=10',
                     '--evals_per_epoch=2', '--dataset=sprites']


def write_idx(path, array):
    """An IDX file of uint8 ``array`` (gzip if ``path`` ends in .gz), as MNIST's."""
    header = struct.pack('>BBBB', 0, 0, 0x08, array.ndim) + struct.pack(
        f'>{array.ndim}I', *array.shape)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())
