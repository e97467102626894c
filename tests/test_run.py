"""End to end: run.py trains, logs, checkpoints, resumes, exports; errors are one line."""

import csv
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=ROOT)


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


SMALL = (480, 96)  # the small Sprites set of these tests: training and test scenes
SMALL_FLAG = f'--scenes={SMALL[0]},{SMALL[1]}'
# Tests of the run folder across processes (kills, resumes) take the plain graphs: what they
# check does not depend on XLA, which would add 15-20 s of compiling to every process.
# trained_run and the SavedModel tests keep XLA, the path every real run takes.
PLAIN = '--nojit_compile'


@pytest.fixture(scope='module')
def small_sprites(tmp_path_factory):
    """A data directory whose cache holds a small Sprites set (run.py takes it with
    SMALL_FLAG)."""
    data_dir = str(tmp_path_factory.mktemp('data'))
    python(f"""
import datasets.core as core
core.load_dataset('sprites', data_dir={data_dir!r}, seed=42, sizes={SMALL})
""")
    return data_dir


@pytest.fixture(scope='module')
def trained_run(small_sprites, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp('run'))
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={run_dir}', '--batch_size=16',
              '--steps_per_epoch=10', '--evals_per_epoch=2', '--dataset=sprites']
    first = run_py(*common, '--epochs=1')
    second = run_py(*common, '--epochs=2')
    return run_dir, first.stdout, second.stdout


def read_metrics(run_dir):
    with open(os.path.join(run_dir, 'metrics.csv')) as f:
        return list(csv.DictReader(f))


def test_run_writes_metrics_checkpoints_pictures_and_settings(trained_run):
    run_dir, first, _ = trained_run
    assert 'parameters: inference 2,836,477, object_spn 286,560, background_spn 90,108, ' \
           'total 3,213,145' in first
    rows = read_metrics(run_dir)
    assert [int(r['step']) for r in rows] == [5, 10, 15, 20]
    for row in rows:
        assert 0 <= float(row['test_count_acc']) <= 1 and np.isfinite(float(row['elbo']))
    seconds = [float(r['train_seconds']) for r in rows]
    assert seconds == sorted(seconds) and seconds[0] > 0
    assert any(f.startswith('ckpt-20') for f in os.listdir(os.path.join(run_dir, 'checkpoints')))
    pictures = os.listdir(os.path.join(run_dir, 'pictures'))
    assert {'boxes_step0000010.png', 'recon_step0000010.png', 'recon_step0000020.png'} <= \
        set(pictures)
    settings = json.load(open(os.path.join(run_dir, 'settings.json')))
    assert settings['config']['bg_var_range'] == [0.002, 0.16]  # the Sprites preset
    # The authors' procedure: the stored data order, structures drawn from the run's seed.
    assert settings['config']['data_order'] == 'fixed'
    assert settings['config']['structure_seed'] == settings['seed'] == 0
    assert os.listdir(os.path.join(run_dir, 'tensorboard'))


def test_a_second_run_resumes_where_the_first_stopped(trained_run):
    _, first, second = trained_run
    assert 'resuming' not in first
    assert 'resuming from step 10 of 20' in second
    assert 'epoch 1\n' not in second.replace('\r', '\n')


def test_saved_model_serves_the_same_counts_in_a_fresh_process(trained_run, small_sprites):
    run_dir, _, _ = trained_run
    scenes = os.path.join(run_dir, 'scenes.npy')
    from datasets import load_dataset
    _, test = load_dataset('sprites', data_dir=small_sprites, sizes=SMALL)
    np.save(scenes, test.images[:64])
    loaded = json.loads(python(f"""
import json, numpy as np, tensorflow as tf
model = tf.saved_model.load({os.path.join(run_dir, 'saved_model')!r})
images = np.load({scenes!r})
out = model.detect(images)
elbo = model.elbo(images)
print(json.dumps({{'count': out['count'].numpy().tolist(), 'boxes': out['boxes'].numpy().tolist(),
                  'elbo': elbo.numpy().tolist()}}))
"""))
    import tensorflow as tf

    from supair_tf import PRESETS, Supair
    model = Supair(PRESETS['sprites'].replace(batch_size=16))
    checkpoint = tf.train.Checkpoint(model=model)
    checkpoint.restore(tf.train.latest_checkpoint(os.path.join(run_dir, 'checkpoints'))) \
        .expect_partial()
    out = model.detect(test.images[:64])
    np.testing.assert_array_equal(loaded['count'], out.count.numpy())
    np.testing.assert_allclose(loaded['boxes'], out.boxes.numpy(), rtol=1e-5, atol=1e-4)
    # The served graph is plain TensorFlow, model.elbo is compiled by XLA: the ELBO is a
    # sum of terms in the thousands, so float32 sums in another order differ by ~1e-5 of
    # the largest ELBO (as in test_model's fast-against-plain check, with 10x margin).
    expected = model.elbo(test.images[:64]).numpy()
    np.testing.assert_allclose(loaded['elbo'], expected, rtol=0,
                               atol=1e-4 * np.abs(expected).max())


def refusals(run_dir, inputs, serves=('detect',)):
    """What a freshly loaded SavedModel says to each input (Python expressions over np and
    tf): the error message of a refusal, or None where it serves the input. One process."""
    return json.loads(python(f"""
import json, numpy as np, tensorflow as tf
model = tf.saved_model.load({os.path.join(run_dir, 'saved_model')!r})
said = []
for text in {list(inputs)!r}:
    for serve in {list(serves)!r}:
        try:
            getattr(model, serve)(eval(text))
            said.append(None)
        except tf.errors.InvalidArgumentError as e:
            said.append(e.message)
scenes = np.random.default_rng(0).random([3, 50, 50, 1])
said.append([model.elbo(scenes.astype(np.float32)).numpy().tolist(),
             model.elbo(scenes).numpy().tolist()])
print(json.dumps(said))
"""))


def test_saved_model_refuses_a_wrong_shape_or_dtype_by_name(trained_run):
    run_dir, _, _ = trained_run
    # float64 is cast to float32 in the served graph; other dtypes are refused by name
    cases = (('np.zeros([2, 28, 28, 1], np.float32)', 'got] [2 28 28 1]'),
             ('np.zeros([50, 50], np.float32)', 'shape [n, 50, 50, 1]'),
             ('[[0.5] * 50] * 50', 'shape [n, 50, 50, 1]'),
             ('np.zeros([1, 1, 50, 50, 1])', 'got] [1 1 50 50 1]'),
             ('tf.zeros([2, 50, 50, 1], tf.int32)', 'float32 in [0, 1]; got int32'),
             ('np.zeros([2, 50, 50, 1], np.uint8)', 'got uint8'),
             ('tf.zeros([2, 50, 50, 1], tf.float16)', 'got float16'))
    *said, (elbo32, elbo64) = refusals(run_dir, [bad for bad, _ in cases])
    for (bad, message), refusal in zip(cases, said, strict=True):
        assert refusal is not None and message in refusal, (bad, refusal)
    assert elbo32 == elbo64  # float64 scenes are served as their float32 rounding


def test_saved_model_refuses_non_finite_and_out_of_range_images(trained_run):
    run_dir, _, _ = trained_run
    cases = (('np.full([2, 50, 50, 1], np.nan, np.float32)', 'NaN or inf'),
             ('np.full([2, 50, 50, 1], 255, np.uint8)', 'divide by 255'))
    *said, _ = refusals(run_dir, [bad for bad, _ in cases], serves=('detect', 'elbo'))
    for (bad, message), by_detect, by_elbo in zip(cases, said[::2], said[1::2], strict=True):
        assert by_detect and by_elbo and message in by_detect + by_elbo, (bad, said)


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


def test_resuming_with_another_steps_per_epoch_is_refused_by_name(trained_run, small_sprites):
    run_dir = trained_run[0]
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG,
                    f'--run_dir={run_dir}', '--batch_size=16',
                    '--steps_per_epoch=5', '--evals_per_epoch=2', '--epochs=2', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'steps_per_epoch 10 there, 5 now' in result.stderr


def test_a_run_folder_from_before_the_data_order_setting_resumes_as_it_was(small_sprites,
                                                                           tmp_path):
    """Folders made when every seed shared structure 0 and data was reshuffled every epoch
    (their settings.json has no data_order) resume with those choices, not today's
    defaults; an explicit flag that differs is refused by name."""
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={tmp_path}', '--batch_size=16',
              '--steps_per_epoch=4', '--evals_per_epoch=1', '--seed=1', '--test_scenes=32', PLAIN]
    run_py(*common, '--epochs=1', '--structure_seed=0', '--data_order=shuffled')
    path = tmp_path / 'settings.json'
    old = json.loads(path.read_text())
    del old['config']['data_order']
    path.write_text(json.dumps(old))
    assert 'resuming from step 4 of 8' in run_py(*common, '--epochs=2').stdout
    config = json.loads(path.read_text())['config']
    assert (config['structure_seed'], config['data_order']) == (0, 'shuffled')
    refused = run_py(*common, '--epochs=3', '--data_order=fixed', check=False)
    assert "data_order 'shuffled' there, 'fixed' now" in refused.stderr


def test_an_eval_without_checkpoint_leaves_no_settings_behind(small_sprites, tmp_path):
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG,
                    f'--run_dir={tmp_path}', '--mode=eval',
                    check=False)
    assert 'no checkpoint in' in result.stderr
    assert not (tmp_path / 'settings.json').exists()


def test_helpshort_lists_the_flags():
    assert '--dataset' in run_py('--helpshort', check=False).stdout


def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint(small_sprites, tmp_path):
    import re
    import signal
    import time
    run_dir = tmp_path / 'killed'
    args = [sys.executable, os.path.join(ROOT, 'run.py'), f'--data_dir={small_sprites}', SMALL_FLAG,
            f'--run_dir={run_dir}', '--batch_size=16', '--steps_per_epoch=30', '--epochs=3',
            '--evals_per_epoch=1', '--checkpoint_seconds=1', '--test_scenes=32', PLAIN]
    process = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = run_dir / 'checkpoints'
    deadline = time.time() + 600
    saved = []
    while time.time() < deadline and process.poll() is None:
        saved = [int(m.group(1)) for f in (os.listdir(checkpoints) if checkpoints.exists() else [])
                 if (m := re.match(r'ckpt-(\d+)\.index$', f))]
        if saved and max(saved) >= 5:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert saved and max(saved) >= 5, 'no checkpoint was written before the kill'
    time.sleep(0.5)
    latest = max(int(m.group(1)) for f in os.listdir(checkpoints)
                 if (m := re.match(r'ckpt-(\d+)\.index$', f)))
    resumed = run_py(*args[2:], '--epochs=1')
    step = int(re.search(r'resuming from step (\d+) of 30', resumed.stdout).group(1))
    # the newest checkpoint: a kill while one is written leaves none half-written
    assert step == latest and 'is unreadable' not in resumed.stdout
    steps = [int(r['step']) for r in read_metrics(str(run_dir))]
    assert steps == sorted(set(steps))  # rows after the checkpoint were dropped, not repeated


def test_a_run_stopped_with_sigterm_saves_the_step_it_reached(small_sprites, tmp_path):
    import re
    import signal
    import time
    run_dir = tmp_path / 'stopped'
    args = [sys.executable, os.path.join(ROOT, 'run.py'), f'--data_dir={small_sprites}', SMALL_FLAG,
            f'--run_dir={run_dir}', '--batch_size=8', '--steps_per_epoch=10', '--epochs=50',
            '--evals_per_epoch=1', '--checkpoint_seconds=100000', '--test_scenes=16', PLAIN]
    # Started ignoring SIGINT, as a background job of a shell is.
    process = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                           signal.SIG_IGN))
    deadline = time.time() + 600
    while time.time() < deadline and not (run_dir / 'metrics.csv').exists():
        time.sleep(0.2)
    time.sleep(3)  # into the second epoch, between checkpoints
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode != 0 and 'stopped; the last checkpoint is kept' in err
    step = int(re.search(r'interrupted: saved step (\d+)', out).group(1))
    assert step >= 10 and (run_dir / 'checkpoints' / f'ckpt-{step}.index').exists()
    resumed = run_py(*args[2:], f'--epochs={-(-step // 10)}')
    assert f'resuming from step {step} of' in resumed.stdout


def test_evaluations_per_epoch_are_as_many_as_asked(tmp_path):
    from datasets.core import SceneSet
    from supair_tf import PRESETS, Supair
    from supair_tf.training import Trainer
    empty = SceneSet(np.zeros([234 * 4, 50, 50, 1], np.float32), np.zeros(234 * 4, np.int32),
                     np.zeros([234 * 4, 2, 4], np.float32))
    model = Supair(PRESETS['mnist'].replace(batch_size=4))
    for per_epoch, steps in ((4, [58, 117, 176]), (1, []), (2, [117])):
        trainer = Trainer(model, empty, empty, str(tmp_path), evals_per_epoch=per_epoch)
        assert sorted(trainer.eval_steps) == steps


def test_a_killed_and_resumed_deterministic_run_ends_with_the_same_parameters(small_sprites,
                                                                               tmp_path):
    """Under --deterministic, SIGKILL at a checkpoint and a resume give an uninterrupted
    run's parameters and metrics: data order, z_where noise and optimiser state resume."""
    import re
    import signal
    import time
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, '--batch_size=16', '--steps_per_epoch=8',
              '--epochs=2', '--evals_per_epoch=1', '--test_scenes=32', '--deterministic',
              '--checkpoint_seconds=1']  # XLA: the plain graphs differ by rounding here
    whole = tmp_path / 'whole'
    run_py(*common, f'--run_dir={whole}')
    killed = tmp_path / 'killed'
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, 'run.py'), *common,
                                f'--run_dir={killed}'], env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline, steps = time.time() + 600, []
    state = killed / 'checkpoints' / 'checkpoint'  # written after a checkpoint's files
    while time.time() < deadline and process.poll() is None:
        steps = [int(n) for n in re.findall(r'ckpt-(\d+)"', state.read_text())
                 ] if state.exists() else []
        if steps and 3 <= max(steps) < 16:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert steps and max(steps) < 16, 'the run ended before it could be killed mid-way'
    resumed = run_py(*common, f'--run_dir={killed}')
    assert 'resuming from step' in resumed.stdout
    code = """
import sys, numpy as np, tensorflow as tf
reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(sys.argv[1] + '/checkpoints'))
names = sorted(n for n in reader.get_variable_to_shape_map()  # the model's and Adam's
               if n.startswith(('model/', 'optimizer/')))
np.savez(sys.argv[2], **{str(i): reader.get_tensor(n) for i, n in enumerate(names)})
"""
    for run in (whole, killed):
        subprocess.run([sys.executable, '-c', code, str(run), str(run / 'params.npz')],
                       check=True, env=ENV, timeout=300)
    a, b = np.load(whole / 'params.npz'), np.load(killed / 'params.npz')
    assert len(a.files) > 10 and a.files == b.files
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    final = [read_metrics(str(run))[-1] for run in (whole, killed)]
    assert final[0]['test_count_acc'] == final[1]['test_count_acc']
    assert final[0]['elbo'] == final[1]['elbo']
    assert final[0]['train_elbo'] == final[1]['train_elbo']  # the same batches averaged


def copy_of(trained_run, tmp_path):
    """A copy of the trained run's folder (ckpt-10, ckpt-20, the export of step 20) and the
    flags it was trained with."""
    import shutil
    run_dir = str(tmp_path / 'run')
    shutil.copytree(trained_run[0], run_dir)
    return run_dir, [f'--run_dir={run_dir}', '--batch_size=16', '--steps_per_epoch=10',
                     '--evals_per_epoch=2', '--dataset=sprites']


def test_after_a_damaged_newest_checkpoint_eval_names_the_step_and_export_keeps_the_newer(
        trained_run, small_sprites, tmp_path):
    run_dir, flags = copy_of(trained_run, tmp_path)
    for path in glob.glob(os.path.join(run_dir, 'checkpoints', 'ckpt-20.data-*')):
        with open(path, 'r+b') as f:
            f.truncate(os.path.getsize(path) // 3)
    data = [f'--data_dir={small_sprites}', SMALL_FLAG]
    evaluated = run_py(*data, *flags, '--mode=eval', '--epochs=2')
    assert 'restored step 10 from' in evaluated.stdout
    assert 'step 10: test count accuracy' in evaluated.stdout
    exported = run_py(*data, *flags, '--mode=export', '--epochs=2', check=False)
    assert exported.returncode != 0 and 'Traceback' not in exported.stderr
    assert 'holds a SavedModel of step 20, newer than step 10' in exported.stderr
    with open(os.path.join(run_dir, 'saved_model', 'assets.extra', 'supair.json')) as f:
        assert json.load(f)['step'] == 20


def test_a_run_whose_settings_json_is_lost_refuses_other_flags_and_records_nothing(
        trained_run, small_sprites, tmp_path):
    run_dir, flags = copy_of(trained_run, tmp_path)
    os.remove(os.path.join(run_dir, 'settings.json'))
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG, *flags, '--epochs=3',
                    '--learning_rate=0.01', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'learning_rate 0.001 there, 0.01 now' in result.stderr
    assert not os.path.exists(os.path.join(run_dir, 'settings.json'))


def test_a_broken_settings_file_beside_a_checkpoint_stops_with_one_line(trained_run,
                                                                         small_sprites, tmp_path):
    import shutil
    run_dir = tmp_path / 'copy'
    shutil.copytree(trained_run[0], run_dir)
    (run_dir / 'settings.json').write_text('{"config": {"scene_size": 5')
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG,
                    f'--run_dir={run_dir}', '--batch_size=16',
                    '--steps_per_epoch=10', '--evals_per_epoch=2', '--epochs=2', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert 'settings.json is unreadable' in result.stderr


def test_a_small_colour_run_of_another_size_and_n_max_trains_exports_and_serves(tmp_path):
    from datasets import scenes
    images, counts, boxes = scenes.sprites(48, np.random.default_rng(0), canvas=32,
                                           colour=True)
    path = tmp_path / 'colour.npz'
    np.savez(path, images=(images[:, :24] * 255).astype(np.uint8), counts=counts, boxes=boxes)
    run_dir = tmp_path / 'run'
    result = run_py(f'--dataset=npz:{path}', f'--run_dir={run_dir}', '--steps=2',
                    '--patch_size=8', '--lstm_units=16', '--batch_size=8', '--epochs=1',
                    '--steps_per_epoch=2', '--evals_per_epoch=1')
    assert 'counts (rows: true 0-2, columns: found 0-2)' in result.stdout
    assert glob.glob(str(run_dir / 'pictures' / 'samples_step*.png'))
    scenes_file = tmp_path / 'scenes.npy'
    np.save(scenes_file, images[:5, :24])
    served = json.loads(python(f"""
import json, numpy as np, tensorflow as tf
model = tf.saved_model.load({str(run_dir / 'saved_model')!r})
images = np.load({str(scenes_file)!r})
out = model.detect(images)
try:
    model.detect(images[..., :1])
    refused = ''
except tf.errors.InvalidArgumentError as e:
    refused = e.message
print(json.dumps({{'boxes': list(out['boxes'].shape), 'count': out['count'].numpy().tolist(),
                  'present': (out['z_pres'].numpy() >= 0.5).sum(1).tolist(),
                  'elbo': model.elbo(images).numpy().tolist(), 'refused': refused}}))
"""))
    assert served['boxes'] == [5, 2, 4] and served['count'] == served['present']
    assert len(served['elbo']) == 5 and np.all(np.isfinite(served['elbo']))
    assert 'images must have the shape [n, 24, 32, 3]' in served['refused']
