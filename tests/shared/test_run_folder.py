"""The run folder keeps its own truth: after kills, lost or damaged files, it neither logs a
step twice, nor trains over a run, nor records settings the run did not use, nor replaces
a newer export."""

import csv
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from datasets.core import SceneSet
from shared.evaluation import MetricsRow
from shared.run_folder import RunFolder, RunFolderError, export_step, replace_export
from shared.training import Trainer
from supair_tf import PRESETS, Supair

SETTINGS = {'config': {'learning_rate': 0.001}, 'seed': 0, 'dataset': 'sprites'}


@pytest.fixture(scope='module')
def scenes():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.1, [32, 50, 50, 1]).astype(np.float32)
    return SceneSet(images, np.zeros(32, np.int32), np.zeros([32, 2, 4], np.float32))


def make_trainer(scenes, run_dir, **kwargs):
    model = Supair(PRESETS['sprites'].replace(batch_size=4), jit_compile=False)
    return Trainer(model, scenes, scenes, str(run_dir), steps_per_epoch=4, evals_per_epoch=2,
                   checkpoint_seconds=10 ** 6, verbose=0, settings=SETTINGS, **kwargs)


def logged_steps(run_dir):
    """metrics.csv's steps, and TensorBoard's (tag, step) pairs, in the order found."""
    with open(os.path.join(run_dir, 'metrics.csv')) as f:
        rows = [int(r['step']) for r in csv.DictReader(f)]
    events = [(value.tag, event.step)
              for path in sorted(glob.glob(os.path.join(run_dir, 'tensorboard', '*tfevents*')))
              for record in tf.data.TFRecordDataset(path)
              for event in [tf.compat.v1.Event.FromString(record.numpy())]
              for value in event.summary.value]
    return rows, events


def test_a_kill_before_the_first_checkpoint_logs_no_step_twice(scenes, tmp_path):
    killed = make_trainer(scenes, tmp_path)
    killed._run_epoch(0)            # steps 1-4, evaluated at step 2, then killed unsaved
    killed.log.writer.flush()       # what reached the disk before the kill
    rerun = make_trainer(scenes, tmp_path)
    rerun.fit(1)
    rerun.log.writer.flush()
    rows, events = logged_steps(tmp_path)
    assert rows == [2, 4]
    assert len(events) == len(set(events)) and ('train/elbo', 3) in events


def test_records_a_kill_tore_are_dropped_and_the_run_resumes(scenes, tmp_path):
    first = make_trainer(scenes, tmp_path)
    first.fit(1)                    # steps 1-4, saved at step 4
    first._run_epoch(1)             # steps 5-8 logged, then killed unsaved ...
    first.log.writer.flush()
    (events,) = glob.glob(str(tmp_path / 'tensorboard' / '*tfevents*'))
    with open(events, 'r+b') as f:  # ... while writing a record
        f.truncate(os.path.getsize(events) - 5)
    with open(tmp_path / 'metrics.csv', 'ab') as f:  # and a row, lost as zeros and garbage
        f.write(b'\x00\x00\x009.5,9\xff\xfe,1.0\n2.5,10,')
    resumed = make_trainer(scenes, tmp_path)
    resumed.fit(2)
    resumed.log.writer.flush()
    rows, events = logged_steps(tmp_path)
    assert rows == [2, 4, 6, 8]
    assert len(events) == len(set(events))
    assert {step for tag, step in events if tag == 'train/elbo'} == set(range(1, 9))


def test_a_lost_or_stale_checkpoint_state_file_loses_no_checkpoint(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    for step in (4, 8):
        trainer.step.assign(step)
        trainer.save()
    state = tmp_path / 'checkpoints' / 'checkpoint'
    stale = state.read_text().replace('ckpt-8', 'ckpt-4')
    state.unlink()
    assert make_trainer(scenes, tmp_path).restore() == 8
    state.write_text(stale)         # as if killed between writing ckpt-8 and the state file
    assert make_trainer(scenes, tmp_path).restore() == 8
    repaired = tf.train.get_checkpoint_state(str(tmp_path / 'checkpoints'))  # TF reads it
    assert os.path.basename(repaired.model_checkpoint_path) == 'ckpt-8'
    assert [os.path.basename(p) for p in repaired.all_model_checkpoint_paths] == \
        ['ckpt-4', 'ckpt-8']
    assert RunFolder(str(tmp_path)).holds_run()


def test_settings_survive_in_the_checkpoints_and_other_flags_are_refused(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(4)
    trainer.save()
    folder = RunFolder(str(tmp_path))
    assert not os.path.exists(folder.settings_path)
    assert folder.read_settings() == SETTINGS
    folder.check_settings(SETTINGS)
    other = {**SETTINGS, 'config': {'learning_rate': 0.01}}
    with pytest.raises(RunFolderError, match="learning_rate 0.001 there, 0.01 now"):
        folder.check_settings(other)
    os.remove(tmp_path / 'checkpoints' / 'checkpoint')
    with pytest.raises(RunFolderError, match='other settings'):
        folder.check_settings(other)


@pytest.mark.parametrize('text, says', [
    ('[1, 2, 3]', 'a JSON array, not an object'), ('null', 'JSON null, not an object'),
    ('{}', 'no '), ('"run"', 'a JSON string, not an object'), ('4.5', 'a JSON number'),
    ('{"config": 3, "seed": 0, "dataset": "sprites"}', '"config" is not an object'),
    ('{"config": {', 'unreadable')])
def test_every_malformed_settings_file_is_one_line_naming_it(tmp_path, text, says):
    folder = RunFolder(str(tmp_path))
    os.makedirs(folder.checkpoint_dir)
    open(os.path.join(folder.checkpoint_dir, 'ckpt-4.index'), 'w').close()
    with open(folder.settings_path, 'w') as f:
        f.write(text)
    with pytest.raises(RunFolderError) as error:
        folder.check_settings(SETTINGS)
    message = str(error.value)
    assert folder.settings_path in message and '\n' not in message and says in message
    assert 'steps_per_epoch' not in message and 'NoneType' not in message


def test_an_export_is_never_replaced_by_one_of_an_older_step(tmp_path):
    export_dir = str(tmp_path / 'saved_model')

    def write(step):
        return lambda folder: open(os.path.join(folder, f'model_of_step_{step}'), 'w').close()

    replace_export(export_dir, 80, write(80))
    with pytest.raises(RunFolderError, match='holds a SavedModel of step 80, newer than step 40'):
        replace_export(export_dir, 40, write(40))
    assert export_step(export_dir) == 80
    assert sorted(os.listdir(export_dir)) == ['assets.extra', 'model_of_step_80']
    replace_export(export_dir, 120, write(120))
    assert export_step(export_dir) == 120
    assert sorted(os.listdir(export_dir)) == ['assets.extra', 'model_of_step_120']
    assert sorted(os.listdir(tmp_path)) == ['saved_model']  # nothing left beside it


def test_settings_recorded_in_a_checkpoint_are_the_trainers(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(4)
    trainer.save()
    reader = tf.train.load_checkpoint(str(tmp_path / 'checkpoints' / 'ckpt-4'))
    assert json.loads(reader.get_tensor('settings/.ATTRIBUTES/VARIABLE_VALUE')) == SETTINGS


def test_a_stale_state_file_is_rebuilt_from_the_checkpoints_on_disk(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    for step in (4, 8):
        trainer.step.assign(step)
        trainer.save()
    state = tmp_path / 'checkpoints' / 'checkpoint'
    state.write_text('model_checkpoint_path: "ckpt-999"\n' + ''.join(
        f'all_model_checkpoint_paths: "{name}"\n' for name in ('ckpt-1', 'ckpt-4', 'ckpt-8',
                                                                'ckpt-999')))
    resumed = make_trainer(scenes, tmp_path)
    read = tf.train.get_checkpoint_state(str(tmp_path / 'checkpoints'))
    assert [os.path.basename(p) for p in read.all_model_checkpoint_paths] == ['ckpt-4', 'ckpt-8']
    assert os.path.basename(tf.train.latest_checkpoint(str(tmp_path / 'checkpoints'))) == 'ckpt-8'
    assert resumed.restore() == 8
    for step in (12, 16):           # the newest three kept are three real ones
        resumed.step.assign(step)
        resumed.save()
    assert [os.path.basename(p) for p in RunFolder(str(tmp_path)).checkpoints()] == \
        ['ckpt-8', 'ckpt-12', 'ckpt-16']


def test_restore_names_the_checkpoint_it_read_not_the_newest_file(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    for step in (4, 8):
        trainer.step.assign(step)
        trainer.save()
    (data,) = glob.glob(str(tmp_path / 'checkpoints' / 'ckpt-8.data-*'))
    with open(data, 'r+b') as f:
        f.truncate(100)
    resumed = make_trainer(scenes, tmp_path)
    assert resumed.restore() == 4
    assert os.path.basename(resumed.state.restored_from) == 'ckpt-4'


def test_a_checkpoint_a_full_disk_refuses_stops_in_one_line_and_keeps_the_last(
        scenes, tmp_path, monkeypatch):
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(4)
    trainer.save()

    def full_disk(self, file_prefix, options=None):
        os.makedirs(os.path.dirname(file_prefix), exist_ok=True)
        open(file_prefix + '.data-00000-of-00001', 'wb').write(b'half')  # what it got to
        raise tf.errors.ResourceExhaustedError(None, None, 'No space left on device')

    monkeypatch.setattr(tf.train.Checkpoint, 'write', full_disk)
    trainer.step.assign(8)
    with pytest.raises(RunFolderError) as error:
        trainer.save()
    assert str(error.value).startswith(f'cannot write {tmp_path}/checkpoints/ckpt-8 (no space '
                                       'left on device); make room')
    assert '\n' not in str(error.value)
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == [
        'checkpoint', 'ckpt-4.data-00000-of-00001', 'ckpt-4.index']  # no partial files
    monkeypatch.undo()
    assert make_trainer(scenes, tmp_path).restore() == 4


def test_settings_json_that_disagrees_with_the_checkpoints_copy_is_refused(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(4)
    trainer.save()
    folder = RunFolder(str(tmp_path))
    folder.record_settings(SETTINGS)
    assert folder.read_settings() == SETTINGS
    edited = json.loads(json.dumps(SETTINGS))
    edited['config']['overlap_rate'] = 5.0
    folder.record_settings(edited)
    with pytest.raises(RunFolderError, match=r"settings.json and the newest checkpoint's copy "
                                             r'of the settings disagree \(overlap_rate'):
        folder.read_settings()


def test_a_refusal_names_the_data_set_and_the_flags_given_before_the_presets(scenes, tmp_path):
    trainer = make_trainer(scenes, tmp_path)
    trainer.step.assign(4)
    trainer.save()
    folder = RunFolder(str(tmp_path))
    other = json.loads(json.dumps(SETTINGS))
    other['dataset'] = 'mnist'
    other['config']['scene_height'] = 40   # what another preset brings along
    other['config']['lstm_units'] = 128    # a flag the user gave
    with pytest.raises(RunFolderError, match="dataset 'sprites' there, 'mnist' now"):
        folder.check_settings(other)
    other['dataset'] = 'sprites'
    with pytest.raises(RunFolderError, match='scene_height 50 there, 40 now'):
        folder.check_settings(other)
    with pytest.raises(RunFolderError, match='lstm_units 256 there, 128 now'):
        folder.check_settings(other, first=('lstm_units',))


def test_held_out_accuracy_is_a_column_of_the_runs_that_hold_counts_out_and_stays_one(
        tmp_path):
    plain, held = RunFolder(str(tmp_path / 'plain')), RunFolder(str(tmp_path / 'held'))
    for folder in (plain, held):
        os.makedirs(folder.path)
    for step in (1, 2, 3):
        plain.append_metrics(MetricsRow(step / 4, step, 1.0, 0.5, 0.7, 10.0, 9.0))
        held.append_metrics(MetricsRow(step / 4, step, 1.0, 0.5, 0.7, 10.0, 9.0, step / 10))

    def header(folder):
        with open(folder.metrics_path) as f:
            return f.readline().strip().split(',')

    assert 'heldout_count_acc' not in header(plain)
    assert header(held)[3:5] == ['test_count_acc', 'heldout_count_acc']
    for folder in (plain, held):
        folder.cut_logs_to(0)   # a fresh start: every row goes, the header stays the run's
    held.append_metrics(MetricsRow(0.25, 1, 1.0, 0.5, 0.7, 10.0, 9.0, 0.125))
    assert 'heldout_count_acc' not in header(plain)
    assert [r['heldout_count_acc'] for r in held.metrics_rows()] == ['0.125']
