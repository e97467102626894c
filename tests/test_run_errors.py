"""run.py stops on bad input with one line on stderr, no traceback."""

import glob
import os
import re
import subprocess
import sys

import pytest

from tests.runs import ENV, ROOT, SMALL_FLAG, copy_of, run_py


@pytest.mark.parametrize('args, message', [
    (['--dataset=mnist', '--mnist_dir=/nonexistent', '--nodownload'],
     'MNIST file train-images-idx3-ubyte(.gz) not found in /nonexistent'),
    (['--run_dir=/proc/no_such_run'], 'cannot write to --run_dir=/proc/no_such_run'),
    (['--bg_var_range=0.5'], '--bg_var_range takes two numbers'),
    (['--dataset=cifar'], 'flag --dataset=cifar'),
    (['--dataset=mnist', '--mnist_dir=/nonexistent', '--nodownload'],
     'downloading is off (--nodownload)'),
    (['--dataset=mnist', f'--mnist_dir={os.path.abspath(__file__)}'], 'is a file'),
    (['--learning_rate=nan'], 'learning_rate must be a positive number, got nan'),
    (['--overlap_rate=-1'], 'overlap_rate must be a positive number, got -1.0'),
    (['--lstm_units=0'], 'flag --lstm_units=0'),
    (['--lstm_units=-1'], 'flag --lstm_units=-1'),
    (['--seed=-1'], 'flag --seed=-1'),
    (['--strategy=mirrored', '--cpu_replicas=2', '--batch_size=15'],
     '--batch_size=15 does not split over 2 replicas'),
    (['--export_dir=/proc/no_such_export'], 'cannot write to --export_dir=/proc/no_such_export'),
    (['--dataset=npz:/nonexistent/scenes.npz'], 'no file /nonexistent/scenes.npz'),
    (['--dataset=npz:/nonexistent/scenes.npz', '--max_objects=3'],
     'max_objects and scene_size are for the built-in data sets'),
    (['--model=air', '--steps=50'], 'flag --steps=50'),
    (['--max_objects=25'], 'flag --max_objects=25'),
    (['--dataset=sprites_rgb', '--structure=poon_domingos'],
     'the Poon-Domingos structure cuts grey images'),
])
def test_bad_input_stops_with_one_line(args, message, tmp_path):
    result = run_py(f'--data_dir={tmp_path}', f'--run_dir={tmp_path / "run"}', *args,
                    check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.skipif(bool(glob.glob('/dev/nvidia*')), reason='a GPU machine keeps its CUDA lines')
def test_stderr_holds_only_the_error_line_without_gpu_noise(tmp_path):
    env = {key: value for key, value in ENV.items() if key != 'TF_CPP_MIN_LOG_LEVEL'}
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run.py'), f'--data_dir={tmp_path}',
                             f'--run_dir={tmp_path / "run"}', '--overlap_rate=-1'],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode != 0
    assert result.stderr.splitlines() == [
        'error: overlap_rate must be a positive number, got -1.0']


def test_a_batch_larger_than_the_data_is_refused_before_training(small_sprites, tmp_path):
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG,
                    f'--run_dir={tmp_path}', '--batch_size=1000',
                    check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert '--batch_size=1000 exceeds the 480 training scenes' in result.stderr


def test_helpshort_lists_the_flags():
    result = run_py('--helpshort', check=False)
    assert result.returncode == 1  # absl's help flags end the program with status 1
    assert 'Traceback' not in result.stderr
    listed = set(re.findall(r'--(?:\[no\])?(\w+):', result.stdout))
    assert {'model', 'dataset', 'mode', 'epochs', 'seed', 'run_dir', 'version'} <= listed


def test_a_refused_command_builds_no_data_and_leaves_no_debris(trained_run, tmp_path):
    run_dir, flags = copy_of(trained_run, tmp_path)
    os.makedirs(os.path.join(run_dir, '.export_killed'))        # a killed export's half
    no_data, export_dir = tmp_path / 'no_data', tmp_path / 'export'
    result = run_py(*flags, f'--data_dir={no_data}', SMALL_FLAG, '--seed=5', '--epochs=3',
                    f'--export_dir={export_dir}', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'seed 0 there, 5 now' in result.stderr
    assert not glob.glob(str(no_data / '*.npz'))               # refused before building
    assert not os.path.exists(export_dir)                      # no empty export folder
    assert not os.path.exists(os.path.join(run_dir, '.export_killed'))
