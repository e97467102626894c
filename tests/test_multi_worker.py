"""--strategy=multi_worker on loopback: real processes talking over 127.0.0.1."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from shared.cluster import loopback_tf_configs
from tests.runs import ENV, ROOT, SMALL_FLAG, read_metrics

STEP_SCRIPT = """
import os, sys
mode, out = sys.argv[1], sys.argv[2]
if mode == 'worker':
    os.environ['TF_CONFIG'] = sys.argv[3]
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
from supair_tf import PRESETS, Supair
from shared.cluster import multi_worker_strategy
from shared.training import make_optimizer, make_train_step
strategy = multi_worker_strategy(120) if mode == 'worker' else tf.distribute.get_strategy()
with strategy.scope():
    model = Supair(PRESETS['sprites'].replace(batch_size=8), seed=3)
    # epsilon 1: steps proportional to the gradients (see test_distributed.py)
    adam = make_optimizer(model, epsilon=1.0)
step = make_train_step(model, adam, strategy if mode == 'worker' else None)
images = np.random.default_rng(0).uniform(0, 1, (8, 50, 50, 1)).astype(np.float32)
initial = {f'initial_{i}': v.numpy() for i, v in enumerate(model.model_variables)}
losses = [float(step(images)) for _ in range(2)]
np.savez(out, losses=np.array(losses), *[v.numpy() for v in model.model_variables], **initial)
"""


def start(args, tf_config=None, **kwargs):
    env = dict(ENV, TF_CONFIG=tf_config) if tf_config else ENV
    return subprocess.Popen([sys.executable, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_two_workers_take_the_step_of_one_process_on_the_whole_batch(tmp_path):
    workers = [start(['-c', STEP_SCRIPT, 'worker', str(tmp_path / f'worker{i}.npz'), config])
               for i, config in enumerate(loopback_tf_configs(2))]
    single = subprocess.run([sys.executable, '-c', STEP_SCRIPT, 'single',
                             str(tmp_path / 'single.npz')], env=ENV, capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err
    one = np.load(tmp_path / 'single.npz')
    for i in range(2):
        two = np.load(tmp_path / f'worker{i}.npz')
        np.testing.assert_allclose(two['losses'], one['losses'], rtol=1e-4)
        names = [k for k in one.files if k.startswith('arr_')]
        worst = max(float(np.max(np.abs(two[k] - one[k]))) for k in names)
        # The two steps changed the parameters (the comparison is not of untouched ones).
        moved = max(float(np.max(np.abs(one[k] - one[f'initial_{k[4:]}']))) for k in names)
        print(f'worker {i}: largest parameter difference {worst:.2e}')
        assert worst < 1e-4 and moved > 1e-3


def run_args(data_dir, run_dir, *extra):
    return [os.path.join(ROOT, 'run.py'), f'--data_dir={data_dir}', SMALL_FLAG,
            f'--run_dir={run_dir}',
            '--batch_size=16', '--steps_per_epoch=30', '--epochs=1', '--evals_per_epoch=1',
            '--test_scenes=32', '--threads=1', '--strategy=multi_worker', *extra]


def checkpoint_steps(folder):
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [int(m.group(1)) for f in names if (m := re.match(r'ckpt-(\d+)\.index$', f))]


def test_a_killed_worker_stops_the_other_and_both_resume_from_the_chiefs_checkpoint(
        small_sprites, tmp_path):  # noqa: F811 (the fixture imported above)
    run_dir = tmp_path / 'run'
    args = run_args(small_sprites, run_dir, '--checkpoint_seconds=1', '--worker_timeout=200')
    configs = loopback_tf_configs(2)
    chief, other = (start(args, config) for config in configs)
    deadline = time.time() + 600
    while time.time() < deadline and chief.poll() is None:
        if max(checkpoint_steps(run_dir / 'checkpoints'), default=0) >= 5:
            break
        time.sleep(0.2)
    if max(checkpoint_steps(run_dir / 'checkpoints'), default=0) < 5:
        other.kill()
        chief.kill()
        pytest.fail('no checkpoint of step 5 or later; the chief said:\n'
                    + chief.communicate()[1][-3000:] + '\nthe other:\n'
                    + other.communicate()[1][-3000:])
    other.send_signal(signal.SIGKILL)
    other.wait()
    killed = time.time()
    _, err = chief.communicate(timeout=400)         # the chief notices within the timeout
    print(f'the chief stopped {time.time() - killed:.0f} s after the kill')
    assert chief.returncode != 0 and 'Traceback' not in err
    assert 'lost contact with another worker' in err, err
    latest = max(checkpoint_steps(run_dir / 'checkpoints'))
    chief, other = (start(args, config) for config in configs)
    (out, err), (other_out, other_err) = (p.communicate(timeout=600) for p in (chief, other))
    assert chief.returncode == 0 and other.returncode == 0, err + other_err
    assert f'resuming from step {latest} of 30' in out
    assert [int(r['step']) for r in read_metrics(str(run_dir))][-1] == 30
    assert 'done: the chief holds the results' in other_out
    assert os.path.exists(run_dir / 'saved_model' / 'saved_model.pb')


@pytest.mark.parametrize('tf_config, message', [
    (None, 'needs TF_CONFIG set on every worker'),
    ('{"cluster": ', 'TF_CONFIG is not valid JSON'),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
     'is not in its cluster'),
    ('{"cluster": {"ps": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}',
     'must be "chief" or "worker"'),
])
def test_a_missing_or_malformed_tf_config_stops_with_one_line(tf_config, message, tmp_path):
    process = start(run_args(tmp_path, tmp_path / 'run'), tf_config)
    _, err = process.communicate(timeout=300)
    assert process.returncode != 0 and 'Traceback' not in err
    assert message in err, err


def test_a_worker_whose_peers_never_come_stops_after_the_timeout(small_sprites, tmp_path):  # noqa: F811
    alone = start(run_args(small_sprites, tmp_path / 'run', '--worker_timeout=15'),
                  loopback_tf_configs(2)[0])
    _, err = alone.communicate(timeout=300)
    assert alone.returncode != 0 and 'Traceback' not in err
    assert 'not every worker of TF_CONFIG joined within 15 s' in err, err


def test_workers_probing_one_run_directory_at_once_do_not_trip_each_other(tmp_path):
    """Every worker checks at start-up that the shared run directory is writable; a probe
    file of one name for all let one worker remove another's and stop (the likely cause of
    a CI failure of the killed-worker test above)."""
    from shared.run_setup import check_writable
    failures = []

    def probe_many():
        for _ in range(300):
            try:
                check_writable(str(tmp_path), 'run_dir')
            except Exception as e:  # noqa: BLE001 (any failure is the finding)
                failures.append(e)

    threads = [threading.Thread(target=probe_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    assert os.listdir(tmp_path) == []  # no probe left behind
