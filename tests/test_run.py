"""End to end: run.py trains, logs, checkpoints, resumes and keeps its settings."""

import glob
import json
import os

import numpy as np

from tests.runs import PLAIN, SMALL_FLAG, python, read_metrics, run_py, write_idx


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
    # The stored data order, structures drawn from the run's seed, the presets' procedure.
    assert settings['config']['data_order'] == 'fixed'
    assert settings['config']['structure_seed'] == settings['seed'] == 0
    assert settings['config']['procedure'] == 'explore'
    assert os.listdir(os.path.join(run_dir, 'tensorboard'))


def test_a_second_run_resumes_where_the_first_stopped(trained_run):
    _, first, second = trained_run
    assert 'resuming' not in first
    assert 'resuming from step 10 of 20' in second
    assert 'epoch 1\n' not in second.replace('\r', '\n')


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
    (their settings.json has no data_order, nor a procedure) resume with those choices, not
    today's defaults; an explicit flag that differs is refused by name."""
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={tmp_path}', '--batch_size=16',
              '--steps_per_epoch=4', '--evals_per_epoch=1', '--seed=1', '--test_scenes=32', PLAIN]
    # (--explore_min_scale=0: a paper-procedure folder that recorded another default of it;
    # --explore_steps=936: the value a folder without it meant, as its checkpoints say)
    run_py(*common, '--epochs=1', '--structure_seed=0', '--data_order=shuffled',
           '--explore_min_scale=0', '--procedure=paper', '--explore_steps=936')
    path = tmp_path / 'settings.json'
    old = json.loads(path.read_text())
    for name in ('data_order', 'procedure', 'explore_floor', 'explore_steps', 'overlap_warmup',
                 'average_epochs'):
        del old['config'][name]
    path.write_text(json.dumps(old))
    assert 'resuming from step 4 of 8' in run_py(*common, '--epochs=2').stdout
    config = json.loads(path.read_text())['config']
    assert (config['structure_seed'], config['data_order']) == (0, 'shuffled')
    assert config['procedure'] == 'paper'   # the only procedure there was
    assert config['explore_min_scale'] == 0.0
    assert config['average_epochs'] == 0    # it ended with its last weights
    refused = run_py(*common, '--epochs=3', '--data_order=fixed', check=False)
    assert "data_order 'shuffled' there, 'fixed' now" in refused.stderr
    refused = run_py(*common, '--epochs=3', '--procedure=explore', check=False)
    assert "procedure 'paper' there, 'explore' now" in refused.stderr


def test_an_eval_without_checkpoint_leaves_no_settings_behind(small_sprites, tmp_path):
    result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG,
                    f'--run_dir={tmp_path}', '--mode=eval',
                    check=False)
    assert 'no checkpoint in' in result.stderr
    assert not (tmp_path / 'settings.json').exists()
    # a folder it had to make for nothing goes again (not one holding only .lock)
    for mode in ('eval', 'export', 'sample'):
        made = tmp_path / f'never_trained_{mode}'
        result = run_py(f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={made}',
                        f'--mode={mode}', check=False)
        assert 'no checkpoint in' in result.stderr and not made.exists()


def test_evaluations_per_epoch_are_as_many_as_asked(tmp_path):
    from datasets.core import SceneSet
    from shared.training import Trainer
    from supair_tf import PRESETS, Supair
    empty = SceneSet(np.zeros([234 * 4, 50, 50, 1], np.float32), np.zeros(234 * 4, np.int32),
                     np.zeros([234 * 4, 2, 4], np.float32))
    model = Supair(PRESETS['mnist'].replace(batch_size=4))
    for per_epoch, steps in ((4, [58, 117, 176]), (1, []), (2, [117])):
        trainer = Trainer(model, empty, empty, str(tmp_path), evals_per_epoch=per_epoch)
        assert sorted(trainer.eval_steps) == steps


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


def test_a_run_records_the_digits_its_scenes_are_drawn_from_and_resumes_only_on_them(tmp_path):
    """settings.json names how many MNIST digits the scenes were composed from: a resume on
    another set is refused by name, an evaluation on it is allowed, and a folder from before
    the digits were recorded resumes on any."""
    rng = np.random.default_rng(0)
    for pool, n_train in (('a', 40), ('b', 30)):
        (tmp_path / pool).mkdir()
        for name, n in (('train-images-idx3-ubyte.gz', n_train), ('t10k-images-idx3-ubyte.gz', 20)):
            blobs = np.zeros([n, 28, 28], np.uint8)
            blobs[:, 6:22, 9:19] = rng.integers(0, 256, [n, 16, 10])
            write_idx(str(tmp_path / pool / name), blobs)
    run_dir = tmp_path / 'run'
    common = ['--dataset=mnist', f'--data_dir={tmp_path / "cache"}', '--scenes=64,32',
              f'--run_dir={run_dir}', '--batch_size=16', '--steps_per_epoch=2',
              '--evals_per_epoch=1', '--test_scenes=16', '--nodownload', PLAIN]
    run_py(*common, f'--mnist_dir={tmp_path / "a"}', '--epochs=1')
    settings = json.loads((run_dir / 'settings.json').read_text())
    assert settings['mnist_digits'] == [40, 20]
    other = f'--mnist_dir={tmp_path / "b"}'
    refused = run_py(*common, other, '--epochs=2', check=False)
    assert refused.returncode != 0 and 'Traceback' not in refused.stderr
    assert 'mnist_digits [40, 20] there, [30, 20] now' in refused.stderr
    assert 'step 2: test count accuracy' in run_py(*common, other, '--mode=eval').stdout
    del settings['mnist_digits']
    (run_dir / 'settings.json').write_text(json.dumps(settings))
    assert 'resuming from step 2 of 4' in run_py(*common, other, '--epochs=2').stdout
    assert json.loads((run_dir / 'settings.json').read_text())['mnist_digits'] == [30, 20]


def test_a_run_that_averages_its_last_epochs_evaluates_and_exports_that_mean(small_sprites,
                                                                             tmp_path):
    """--procedure=explore --average_epochs=2: the run's last metrics row and a later
    --mode=eval of the folder both count with the mean of the last two epoch ends (the
    weights kept in epoch_ends/, two of them), and say so."""
    common = [f'--data_dir={small_sprites}', SMALL_FLAG, f'--run_dir={tmp_path}',
              '--batch_size=16', '--steps_per_epoch=4', '--evals_per_epoch=1',
              '--test_scenes=32', '--procedure=explore', '--average_epochs=2', PLAIN]
    trained = run_py(*common, '--epochs=3').stdout
    assert 'the model of step 12: the mean of its weights at the ends of epochs 2, 3' in trained
    last = read_metrics(str(tmp_path))[-1]
    evaluated = run_py(*common, '--mode=eval').stdout
    assert 'the mean of its weights at the ends of epochs 2, 3' in evaluated
    assert f"test count accuracy {float(last['test_count_acc']):.4f}" in evaluated
    assert sorted(os.listdir(tmp_path / 'epoch_ends')) == [
        'checkpoint', 'ckpt-12.data-00000-of-00001', 'ckpt-12.index',
        'ckpt-8.data-00000-of-00001', 'ckpt-8.index']
