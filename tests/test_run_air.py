"""run.py --model=air: the product's guarantees for the second model (resume bit for bit,
settings kept and refused by name, one-line errors, the SavedModel's serving contract)."""

import json
import os
import shutil

import numpy as np
import pytest

from tests.runs import PLAIN, SMALL, SMALL_FLAG, python, read_metrics, run_py


def air_flags(data_dir, run_dir):
    return [f'--data_dir={data_dir}', SMALL_FLAG, f'--run_dir={run_dir}', '--model=air',
            '--dataset=sprites', '--batch_size=16', '--steps_per_epoch=6', '--evals_per_epoch=2',
            '--test_scenes=32', PLAIN, '--deterministic', '--threads=1']


@pytest.fixture(scope='module')
def air_run(small_sprites, tmp_path_factory):
    """An AIR run of two epochs (12 steps), never interrupted, and what it printed."""
    whole = tmp_path_factory.mktemp('air') / 'whole'
    return whole, run_py(*air_flags(small_sprites, whole), '--epochs=2').stdout


def test_an_air_run_stopped_and_resumed_writes_what_an_uninterrupted_one_writes(small_sprites,
                                                                              air_run, tmp_path):
    (whole, first), parts = air_run, tmp_path / 'parts'
    assert 'parameters: inference_lstm 2,879,488, object_model 344,884, baselines 2,931,089' \
        in first
    assert 'sampled_count_acc' in first
    run_py(*air_flags(small_sprites, parts), '--epochs=1')
    second = run_py(*air_flags(small_sprites, parts), '--epochs=2').stdout
    assert 'resuming from step 6 of 12' in second
    rows = [{k: v for k, v in row.items() if k != 'train_seconds'}
            for row in read_metrics(whole)]
    assert [int(r['step']) for r in rows] == [3, 6, 9, 12]
    assert rows == [{k: v for k, v in row.items() if k != 'train_seconds'}
                    for row in read_metrics(parts)]
    settings = json.loads((whole / 'settings.json').read_text())
    assert settings['model'] == 'air' and settings['config']['train_scenes'] == 480
    assert settings['config']['baseline_learning_rate'] == 0.1
    assert {'boxes_step0000006.png', 'recon_step0000006.png', 'samples_step0000006.png'} <= \
        set(os.listdir(whole / 'pictures'))

    # The folder belongs to AIR: SuPAIR on it is refused, naming the model.
    other = [f for f in air_flags(small_sprites, whole) if f != '--model=air']
    result = run_py(*other, '--epochs=3', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert "model 'air' there, 'supair' now" in result.stderr

    # The SavedModel keeps the serving contract (and AIR's object codes beside it); AIR's
    # z_where is (s, x, y); its reconstruction is the decoded objects added up.
    out = json.loads(python(f"""
import json, numpy as np, tensorflow as tf
model = tf.saved_model.load({str(whole / 'saved_model')!r})
out = model.detect(np.zeros([5, 50, 50, 1], np.float32))
shapes = {{k: list(v.shape) for k, v in out.items()}}
shapes['reconstruct'] = list(model.reconstruct(np.zeros([5, 50, 50, 1], np.float32)).shape)
print(json.dumps(shapes))
""").strip().splitlines()[-1])
    assert out == {'count': [5], 'z_pres': [5, 3], 'z_where': [5, 3, 3], 'boxes': [5, 3, 4],
                   'z_what': [5, 3, 50], 'reconstruct': [5, 50, 50, 1]}


def test_a_supair_setting_given_to_air_is_refused_in_one_line(small_sprites, tmp_path):
    result = run_py(*air_flags(small_sprites, tmp_path), '--lstm_units=8', check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        'error: --lstm_units is a setting of --model=supair, not of --model=air'
    assert not os.path.exists(tmp_path / 'settings.json')


def test_air_evaluates_the_greedy_counts_against_the_truth(small_sprites, air_run, tmp_path):
    """Eval's accuracy and confusion matrix equal those computed here from the data set's
    own true counts and the exported model's greedy counts on the same 32 test scenes."""
    run_dir = tmp_path / 'copy'
    shutil.copytree(air_run[0], run_dir)
    out = run_py(*air_flags(small_sprites, run_dir), '--mode=eval').stdout
    accuracy = float(out.split('test count accuracy ')[1].split(',')[0])
    truth = json.loads(python(f"""
import json
import numpy as np
import tensorflow as tf
import datasets.core as core
_, test = core.load_dataset('sprites', data_dir={small_sprites!r}, seed=42, sizes={SMALL})
test = test.subset(32)
model = tf.saved_model.load({str(run_dir / 'saved_model')!r})
found = model.detect(tf.constant(test.images, tf.float32))['count'].numpy()
matrix = np.zeros([3, 4], int)
np.add.at(matrix, (test.counts, found), 1)
print(json.dumps({{'accuracy': float(np.mean(found == test.counts)),
                  'matrix': matrix.tolist(), 'counts': np.bincount(test.counts).tolist()}}))
"""))
    assert np.isclose(accuracy, truth['accuracy'], atol=1e-4)
    printed = out.split('columns: found 0-3):')[1].split('step')[0]
    assert [[int(v) for v in row.strip(' []').split()] for row in printed.strip().splitlines()] \
        == truth['matrix']
    assert min(truth['counts']) > 0   # every true count among the 32 scenes
