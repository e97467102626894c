"""The training loop's bookkeeping: damaged checkpoints, evaluations a kill lost."""

import csv
import glob
import os

import numpy as np
import pytest

from datasets.core import SceneSet
from shared.training import FusedAdam, Trainer
from shared.training_state import CheckpointError
from supair_tf import PRESETS, Supair


@pytest.fixture(scope='module')
def scenes():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.1, [24, 50, 50, 1]).astype(np.float32)
    return SceneSet(images, np.zeros(24, np.int32), np.zeros([24, 2, 4], np.float32))


def make_trainer(scenes, run_dir):
    model = Supair(PRESETS['sprites'].replace(batch_size=4), jit_compile=False)
    return Trainer(model, scenes, scenes, str(run_dir), steps_per_epoch=2, evals_per_epoch=1,
                   verbose=1)


def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(scenes, tmp_path, capsys):
    trainer = make_trainer(scenes, tmp_path)
    for step in (1, 2):
        trainer.step.assign(step)
        trainer.save()
    (newest,) = glob.glob(str(tmp_path / 'checkpoints' / 'ckpt-2.data-*'))
    with open(newest, 'r+b') as f:
        f.truncate(os.path.getsize(newest) // 3)
    assert make_trainer(scenes, tmp_path).restore() == 1
    assert 'ckpt-2 is unreadable' in capsys.readouterr().out
    (older,) = glob.glob(str(tmp_path / 'checkpoints' / 'ckpt-1.data-*'))
    with open(older, 'r+b') as f:
        f.truncate(10)
    with pytest.raises(CheckpointError, match='no readable checkpoint'):
        make_trainer(scenes, tmp_path).restore()


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


@pytest.mark.parametrize('kill_at', range(6))
def test_a_kill_while_a_checkpoint_is_written_leaves_every_checkpoint_readable(
        scenes, tmp_path, capsys, monkeypatch, kill_at):
    """Killed at any file operation of a save (writing a checkpoint, moving it in, pruning
    the oldest, rewriting the state file), the folder resumes from that checkpoint or the
    one before, and finds nothing unreadable. (TensorFlow alone writes the index in place:
    a kill there left a half checkpoint, and CI once resumed from none.)"""
    import shared.run_folder as run_folder
    trainer = make_trainer(scenes, tmp_path)
    for step in (1, 2, 3):
        trainer.step.assign(step)
        trainer.save()
    operations = []

    def killing(real):
        def operation(*args):
            if len(operations) == kill_at:
                raise Killed
            operations.append(args)
            return real(*args)
        return operation

    monkeypatch.setattr(run_folder.os, 'replace', killing(os.replace))
    monkeypatch.setattr(run_folder.os, 'remove', killing(os.remove))
    trainer.step.assign(4)
    killed = True
    try:
        trainer.save()
        killed = False
    except Killed:
        pass
    monkeypatch.undo()
    capsys.readouterr()
    assert make_trainer(scenes, tmp_path).restore() == (3 if killed and kill_at < 2 else 4)
    assert 'unreadable' not in capsys.readouterr().out
    assert killed == (kill_at < 5)  # five operations: data, index, 2 of ckpt-1, state file


def test_progress_written_to_a_file_is_plain_lines(scenes, tmp_path, capsys):
    """Output that is not a terminal (a nohup log) gets one readable line per tenth of an
    epoch, not the terminal bar's escape codes."""
    make_trainer(scenes, tmp_path).fit(1)
    out = capsys.readouterr().out
    assert '\x1b' not in out and '\r' not in out
    steps = [line.split()[0] for line in out.splitlines() if ' steps, batch ELBO ' in line]
    assert steps == ['1/2', '2/2']


def test_resuming_logs_the_evaluation_a_kill_left_out(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.fit(1)                          # 2 steps: evaluated and logged at step 2
    trainer._run_epoch(1)                   # steps 3-4, then "killed" after saving,
    trainer.save()                          # before the epoch's evaluation
    resumed = make_trainer(scenes, tmp_path)
    resumed.fit(2)
    with open(tmp_path / 'metrics.csv') as f:
        steps = [int(row['step']) for row in csv.DictReader(f)]
    assert steps == [2, 4]
    assert len(glob.glob(str(tmp_path / 'pictures' / 'recon_step0000004.png'))) == 1


def test_a_picture_a_kill_tore_is_drawn_again_on_resume(scenes, tmp_path, monkeypatch):
    from PIL import Image

    def torn(image, path, **kwargs):  # writes half a PNG, then the process is killed
        with open(path, 'wb') as f:
            f.write(b'\x89PNG\r\n')
        raise Killed

    monkeypatch.setattr(Image.Image, 'save', torn)
    with pytest.raises(Killed):
        make_trainer(scenes, tmp_path).fit(1)  # killed drawing step 2's pictures
    monkeypatch.undo()
    assert not glob.glob(str(tmp_path / 'pictures' / '*.png'))
    make_trainer(scenes, tmp_path).fit(1)
    with open(tmp_path / 'metrics.csv') as f:
        assert [int(row['step']) for row in csv.DictReader(f)] == [2]
    for kind in ('boxes', 'recon', 'samples'):
        Image.open(tmp_path / 'pictures' / f'{kind}_step0000002.png').load()  # whole


def test_a_checkpoint_without_the_train_elbo_window_still_resumes(scenes, tmp_path):
    """Checkpoints written before the window was kept (sessions 1-3) resume with it empty."""
    import tensorflow as tf
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(3)
    older = tf.train.Checkpoint(model=trainer.model, optimizer=trainer.optimizer,
                                train_seconds=trainer.train_seconds)
    tf.train.CheckpointManager(older, str(tmp_path / 'checkpoints'), 3).save(checkpoint_number=3)
    resumed = make_trainer(scenes, tmp_path)
    assert resumed.restore() == 3 and not resumed.recent_elbos


def test_a_checkpoint_from_when_the_model_held_adam_resumes_exactly(scenes, tmp_path):
    """In older run folders the model owned Adam (model/optimizer/...) beside a step variable
    of the trainer's own; such checkpoints restore every variable and Adam's state."""
    import tensorflow as tf
    trainer = make_trainer(scenes, tmp_path)
    trainer.train_step(scenes.images[:4])
    trainer.train_step(scenes.images[4:8])
    old_model = tf.Module()
    for name in ('inference', 'object_spn', 'background_spn'):
        setattr(old_model, name, getattr(trainer.model, name))
    old_model.optimizer = trainer.optimizer
    old = tf.train.Checkpoint(model=old_model, step=tf.Variable(2, dtype=tf.int64),
                              train_seconds=trainer.train_seconds)
    tf.train.CheckpointManager(old, str(tmp_path / 'checkpoints'), 3).save(checkpoint_number=2)
    resumed = make_trainer(scenes, tmp_path)
    assert resumed.restore() == 2
    for mine, theirs in zip(resumed.optimizer.variables + resumed.model.model_variables,
                            trainer.optimizer.variables + trainer.model.model_variables,
                            strict=True):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert np.any(resumed.optimizer.variables[2].numpy() != 0)  # Adam's moments, not zeros


def test_a_non_finite_elbo_stops_training_naming_the_step(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.fit(1)                                  # checkpoint at step 2
    weights = trainer.model.inference.trainable_variables[0]
    weights.assign(np.full(weights.shape, np.nan, np.float32))
    with pytest.raises(FloatingPointError, match='the ELBO became nan at step 3'):
        trainer._run_epoch(1)                       # fit() would restore the checkpoint
    assert trainer.newest_checkpoint().endswith('ckpt-2')


def test_training_stops_once_the_test_elbo_gains_less_than_asked(scenes, tmp_path, capsys):
    model = Supair(PRESETS['sprites'].replace(batch_size=4), jit_compile=False)
    trainer = Trainer(model, scenes, scenes, str(tmp_path), steps_per_epoch=2, evals_per_epoch=1,
                      stop_gain=10.0, stop_epochs=1)       # any gain below 1000% stops it
    trainer.fit(5)
    assert int(trainer.step.numpy()) == 4                   # epochs 1 and 2, then stopped
    with open(tmp_path / 'metrics.csv') as f:
        first, second = (float(row['elbo']) for row in csv.DictReader(f))
    said = capsys.readouterr().out
    assert f'gained {100 * (second - first) / abs(first):.2f}% over epochs 1-2' in said
    resumed = Trainer(model, scenes, scenes, str(tmp_path), steps_per_epoch=2,
                      evals_per_epoch=1, stop_gain=10.0, stop_epochs=1)
    resumed.fit(5)                                          # already converged: no step more
    assert int(resumed.step.numpy()) == 4


@pytest.mark.parametrize('epsilon', [1e-8, 0.05])
def test_fused_adam_follows_kingma_and_ba_and_keras_adam(epsilon):
    """Five compiled steps of FusedAdam on random gradients against Algorithm 1 of Kingma &
    Ba (2015) in float64, with the epsilon of their section 2's reordering
    (eps_hat = eps sqrt(1 - b2^t), as TensorFlow and Keras apply it), and against Keras'
    own Adam on the same gradients."""
    import keras
    import tensorflow as tf
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(7, 3)), rng.normal(size=(5,))]
    grads = [[rng.normal(size=w.shape) * scale for w in start] for scale in (1, 1e-3, 3, 0.1, 1)]
    lr, b1, b2 = 0.01, 0.9, 0.999
    runs = {}
    for name, cls in (('fused', FusedAdam), ('keras', keras.optimizers.Adam)):
        weights = [tf.Variable(w, dtype=tf.float32) for w in start]
        optimizer = cls(lr, epsilon=epsilon)
        optimizer.build(weights)
        step = tf.function(
            lambda g, o=optimizer, w=weights: o.apply_gradients(zip(g, w, strict=True)))
        for g in grads:
            step([tf.constant(x, tf.float32) for x in g])
        runs[name] = [w.numpy() for w in weights]
    expected = []
    for k, w in enumerate(start):
        w, m, v = w.copy(), np.zeros_like(w), np.zeros_like(w)
        for t, g in enumerate(grads, start=1):
            m = b1 * m + (1 - b1) * g[k]
            v = b2 * v + (1 - b2) * g[k] ** 2
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            w -= lr * m_hat / (np.sqrt(v_hat) + epsilon / np.sqrt(1 - b2 ** t))
        expected.append(w)
    for fused, keras_adam, want, w0 in zip(runs['fused'], runs['keras'], expected, start,
                                           strict=True):
        assert np.abs(want - w0).max() > 0.01                 # the steps moved the weights
        np.testing.assert_allclose(fused, want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(fused, keras_adam, rtol=0, atol=1e-6)


def test_after_the_frequent_epochs_only_epoch_ends_are_evaluated(scenes, tmp_path):
    """Two evaluations an epoch in the first epoch, one (its end) in the two after; a run
    resumed after a kill at an evaluation step of a later epoch adds no evaluation there."""
    model = Supair(PRESETS['sprites'].replace(batch_size=4), jit_compile=False)
    trainer = Trainer(model, scenes, scenes, str(tmp_path), steps_per_epoch=4,
                      evals_per_epoch=2, frequent_eval_epochs=1, verbose=0)
    trainer.fit(3)
    with open(tmp_path / 'metrics.csv') as f:
        assert [int(row['step']) for row in csv.DictReader(f)] == [2, 4, 8, 12]
    trainer.step.assign(14)                 # "killed" after saving step 14 (epoch 4, step 2)
    trainer.save()
    trainer.fit(4)
    with open(tmp_path / 'metrics.csv') as f:
        assert [int(row['step']) for row in csv.DictReader(f)] == [2, 4, 8, 12, 16]


def test_fixed_data_order_takes_the_stored_order_every_epoch_and_shuffled_a_new_one(scenes,
                                                                                      tmp_path):
    def orders(data_order):
        model = Supair(PRESETS['sprites'].replace(batch_size=4, data_order=data_order),
                       jit_compile=False)
        trainer = Trainer(model, scenes, scenes, str(tmp_path / data_order), seed=1,
                          steps_per_epoch=2)
        return trainer.batch_indices(0), trainer.batch_indices(1)
    fixed, shuffled = orders('fixed'), orders('shuffled')
    assert all(np.array_equal(order, np.arange(len(scenes))) for order in fixed)
    assert not np.array_equal(*shuffled)
    assert all(np.array_equal(np.sort(order), np.arange(len(scenes))) for order in shuffled)


def test_tensorboard_holds_the_pictures_the_run_draws(scenes, tmp_path):
    """Read back with TensorBoard's own event reader: boxes, reconstructions and samples,
    at the step they were drawn, the same pictures as the PNGs."""
    import tensorflow as tf
    from PIL import Image
    from tensorboard.backend.event_processing import event_accumulator as ea

    make_trainer(scenes, tmp_path).fit(1)
    events = ea.EventAccumulator(str(tmp_path / 'tensorboard'), size_guidance={ea.TENSORS: 0})
    events.Reload()
    for name in ('boxes', 'recon', 'samples'):
        tag = f'pictures/{name}'
        assert events.SummaryMetadata(tag).plugin_data.plugin_name == 'images'
        (event,) = events.Tensors(tag)
        assert event.step == 2
        png = tf.make_ndarray(event.tensor_proto)[2]
        drawn = tf.io.decode_png(png).numpy()
        saved = np.asarray(Image.open(tmp_path / 'pictures' / f'{name}_step0000002.png')
                           .convert('RGB'))
        np.testing.assert_array_equal(drawn, saved)
