"""tf.distribute: a mirrored step over two logical CPU devices equals one device's step,
for SuPAIR and for AIR (its two parameter groups; NVIL, and VIMCO whose samples of a scene
stay on the scene's replica)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from shared.training import make_optimizers, make_train_step
MODEL
strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
with strategy.scope():
    mirrored = build()
single = build()
for mine, theirs in zip(single.model_variables, mirrored.model_variables):
    mine.assign(theirs.numpy())
# Adam divides by sqrt(v) + epsilon: with the reference's epsilon 1e-8 a parameter whose
# gradient is ~1e-9 moves by a good part of the learning rate, so rounding differences in
# such gradients (the two devices sum in another order) would dominate the comparison.
# A large epsilon keeps every step proportional to its gradient, which is what is compared.
with strategy.scope():
    mirrored_adam = make_optimizers(mirrored, epsilon=1.0)
single_adam = make_optimizers(single, epsilon=1.0)
before = [v.numpy() for v in single.model_variables]
images = np.random.default_rng(0).uniform(0, 1, (8, *config.scene_shape)).astype(np.float32)
step = make_train_step(mirrored, mirrored_adam, strategy)
single_step = make_train_step(single, single_adam)
assert strategy.num_replicas_in_sync == 2
for _ in range(2):
    loss_mirrored = float(step(images))
    loss_single = float(single_step(images))
    print('losses', loss_single, loss_mirrored)
    assert abs(loss_single - loss_mirrored) <= 1e-4 * abs(loss_single), (loss_single, loss_mirrored)
# Each variable: the two runs differ by at most a hundredth of how far it moved (AIR's
# groups move by their learning rates, 1e-4 and 0.1), and the model moved.
moved = [np.max(np.abs(a.numpy() - b)) for a, b in zip(single.model_variables, before)]
apart = [np.max(np.abs(a.numpy() - b.numpy()))
         for a, b in zip(single.model_variables, mirrored.model_variables)]
print('largest change', max(moved), 'largest difference', max(apart))
assert all(d <= 0.01 * m + 1e-7 for d, m in zip(apart, moved)) and max(moved) > moved_least
print('OK')
"""


MODELS = {
    'supair': """
from supair_tf import PRESETS, Supair
config = PRESETS['sprites'].replace(batch_size=8)
build = lambda: Supair(config, seed=3)
moved_least = 1e-3
""",
    **{f'air_{estimator}': f"""
from air_tf import PRESETS, Air
config = PRESETS['mnist'].replace(batch_size=8, rnn_hidden_size=32, encoder_hidden=(16,),
                                  decoder_hidden=(16,), predict_hidden=(16,),
                                  baseline_hidden=(16,), estimator='{estimator}',
                                  vimco_samples=3)
build = lambda: Air(config, seed=3)
moved_least = 1e-4   # its learning rate: 1e-4
""" for estimator in ('nvil', 'vimco')}}


@pytest.mark.parametrize('model', sorted(MODELS))
def test_mirrored_step_over_two_cpu_devices_matches_one_device(model):
    script = SCRIPT.replace('MODEL', MODELS[model])
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=ROOT),
                            timeout=600)
    assert result.returncode == 0 and 'OK' in result.stdout, result.stdout + result.stderr
