"""Table 2 over seeds reads each run where the protocol ends it: a SuPAIR run at the last
step its settings make, an AIR run at its step budget (experiments/seeds_report.py), and
keeps each kind of run (SuPAIR, --procedure=paper, AIR) in its own rows."""

import csv
import json
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'experiments'))
import count_failures  # noqa: E402
import generalisation_report  # noqa: E402
import many_objects_report  # noqa: E402
import objects_as_features  # noqa: E402
import peak_windows  # noqa: E402
import seeds_report  # noqa: E402


def write_run(folder, name, steps, epochs, batch_size):
    with open(os.path.join(folder, f'{name}_metrics.csv'), 'w', newline='') as f:
        out = csv.writer(f)
        out.writerow(['epoch', 'step', 'train_seconds', 'test_count_acc', 'test_iou', 'elbo',
                      'train_elbo'])
        for i, step in enumerate(steps):
            out.writerow([0, step, 10.0 * (i + 1), 0.5 + 0.01 * i, 0.5, 100 + i, 100 + i])
    with open(os.path.join(folder, f'{name}_settings.json'), 'w') as f:
        json.dump({'dataset': 'mnist', 'config': {'epochs': epochs, 'batch_size': batch_size}},
                  f)


@pytest.fixture
def results(tmp_path):
    # Pyro's length: 214 epochs of 937 steps (200,518); one past the budget, one short of it.
    write_run(tmp_path, 'air_mnist_seed0', [937, 99_322, 100_259, 101_196, 200_518], 214, 64)
    write_run(tmp_path, 'air_mnist_seed1', [937, 60_905], 107, 64)
    # SuPAIR: 20 epochs of 234 steps, no budget.
    write_run(tmp_path, 'mnist_seed0', [234, 2340, 4680], 20, 256)
    write_run(tmp_path, 'mnist_paper_seed3', [234, 2340, 4680], 20, 256)
    return str(tmp_path)


def test_an_air_run_is_read_up_to_its_first_evaluation_past_the_budget(results):
    runs = seeds_report.read_runs(results, 'mnist', 'air')
    assert list(runs[0]['step']) == [937, 99_322, 100_259]
    assert runs[0]['finished']
    assert runs[0]['test_count_acc'][-1] == pytest.approx(0.52)
    assert list(runs[1]['step']) == [937, 60_905] and not runs[1]['finished']


def test_a_supair_run_ends_at_the_last_step_its_settings_make(results):
    run = seeds_report.read_runs(results, 'mnist', 'supair')[0]
    assert list(run['step']) == [234, 2340, 4680] and run['finished']
    assert set(seeds_report.read_runs(results, 'mnist', 'paper')) == {3}
    assert '| Multi-MNIST | SuPAIR, --procedure=paper | 1 (seeds 3) | 52.0' in (
        seeds_report.table(results))
    assert '| Multi-MNIST | AIR | 1 (seeds 0) | 52.0' in seeds_report.table(results)


def write_generalisation_run(folder, name, held, trained):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f'{name}_metrics.csv'), 'w', newline='') as f:
        out = csv.writer(f)
        out.writerow(['epoch', 'step', 'train_seconds', 'test_count_acc', 'heldout_count_acc',
                      'test_iou', 'elbo', 'train_elbo'])
        for step, (h, t) in enumerate(zip(held, trained, strict=True), 1):
            out.writerow([step, 100 * step, step, t, h, 0.5, 1.0, 1.0])


def test_fig_6s_table_takes_each_runs_last_held_out_and_trained_accuracy(tmp_path):
    partial = tmp_path / 'experiments' / 'generalisation' / 'partial'
    write_generalisation_run(tmp_path, 'air_extrapolate_seed0', [0.0, 0.1], [0.5, 0.9])
    write_generalisation_run(tmp_path, 'air_extrapolate_seed1', [0.0, 0.3], [0.5, 0.9])
    write_generalisation_run(partial, 'air_extrapolate_seed1', [0.9], [0.9])   # superseded
    write_generalisation_run(partial, 'air_extrapolate_seed2', [1.0], [0.4])   # cut short
    write_generalisation_run(partial, 'supair_residual_interpolate_seed2', [0.2, 0.8],
                             [0.6, 0.97])
    runs = generalisation_report.read_runs([str(tmp_path), str(partial)])
    assert set(runs) == {('air', 'extrapolate'), ('supair_residual', 'interpolate')}
    rows = generalisation_report.table(runs).splitlines()[2:]
    # The finished seeds averaged, the one still training alone beside them.
    assert rows[0] == '| extrapolate | AIR | 0, 1 | 200 | 20.0 +- 14.1 | 90.0 +- 0.0 |'
    assert rows[1] == '| extrapolate | AIR | 2 (training) | 100 | 100.0 | 40.0 |'
    assert rows[2] == ('| interpolate | SuPAIR, --inference_reads=residual '
                       '--residual_margin=2 | 2 (training) | 200 | 80.0 | 97.0 |')
    finished = generalisation_report.finished(runs[('air', 'extrapolate')])
    assert set(finished) == {0, 1}
    steps, held = generalisation_report.curves(finished, 0)
    assert list(steps) == [100, 200] and held.tolist() == [[0.0, 0.1], [0.0, 0.3]]


def test_many_objects_table_counts_errors_from_the_confusion_of_the_last_evaluation(tmp_path):
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 300)
    found = np.clip(true + rng.choice([-2, -1, 0, 0, 0, 1], 300), 0, 5)
    confusion = np.zeros([5, 6], int)
    np.add.at(confusion, (true, found), 1)
    for seed, step in ((0, 4680), (1, 4680)):
        name = f'mnist_max4_s80_seed{seed}'
        write_run(tmp_path, name, [2340, 4680], 20, 256)
        with open(tmp_path / f'{name}_card.json', 'w') as f:
            json.dump({'step': step, 'test': {
                'confusion_rows_true_columns_found': confusion.tolist()}}, f)
    write_run(tmp_path, 'air_mnist_max4_s80_seed0', [937], 30, 64)   # no card: no MAE
    runs = many_objects_report.read_runs([str(tmp_path)])
    run = runs[('mnist 0-4, 80x80', 'SuPAIR')][0]
    assert run.count_error() == pytest.approx(np.abs(found - true).mean())
    np.testing.assert_allclose(run.per_count(), [np.mean(found[true == n] == n)
                                                 for n in range(5)])
    summary, per_count = many_objects_report.tables(runs)
    assert '| mnist 0-4, 80x80 | AIR | 0 | 50.0 | 50.0 | - | 0.500 | 10 |' in summary
    assert f'| {np.abs(found - true).mean():.3f} +- 0.000 |' in summary
    assert per_count.splitlines()[2].startswith('| mnist 0-4, 80x80 | SuPAIR | 2 | ')


def test_objects_as_features_labels_and_windows_against_hand_values():
    digit_labels = np.array([[3, 5], [7, 2], [4, 4]])
    boxes = np.zeros([3, 2, 4], np.float32)
    boxes[:, :, 1] = [[30, 5], [1, 40], [10, 20]]     # left edges: drawn second, first, first
    labels = objects_as_features.task_labels(digit_labels, boxes)
    assert labels['sum'].tolist() == [8, 9, 8]
    assert labels['order'].tolist() == [0, 0, 0]       # 5 then 3; 7 then 2; 4 then 4
    labels = objects_as_features.task_labels(digit_labels[:, ::-1], boxes)
    assert labels['order'].tolist() == [1, 1, 0]
    # A box over exactly 28 x 28 pixels is those pixels; one over 14 x 14 is them doubled.
    rng = np.random.default_rng(0)
    scene = rng.uniform(size=[1, 50, 50, 1]).astype(np.float32)
    box = np.array([[[10, 7, 38, 35], [0, 0, 14, 14]]], np.float32)
    windows = objects_as_features.windows(scene, box).reshape(1, 2, 28, 28)
    np.testing.assert_allclose(windows[0, 0], scene[0, 10:38, 7:35, 0], atol=1e-5)
    assert abs(windows[0, 1].mean() - scene[0, :14, :14, 0].mean()) < 0.02
    order = np.array([[2, 0]])
    assert objects_as_features.take_steps(np.arange(6).reshape(1, 3, 2), order).tolist() == \
        [[[4, 5], [0, 1]]]


def test_objects_as_features_goes_on_where_a_stopped_study_stopped(tmp_path, monkeypatch):
    calls = []

    def accuracy(train_x, train_y, test_x, test_y, classes, seed, cnn=False):
        calls.append((len(train_x), classes, seed, cnn))
        return 0.5 + 0.01 * len(calls)

    monkeypatch.setattr(objects_as_features, 'accuracy', accuracy)
    x = np.zeros([30, 4], np.float32)
    labels = {'sum': np.zeros(30, int), 'order': np.zeros(30, int)}
    saved = str(tmp_path / 'features.json')
    args = ({'supair': x}, x, labels, [5, 10], 15, 2)
    first = objects_as_features.study(*args, saved=saved)
    assert len(calls) == 2 * 2 * 2 * 2        # learners x tasks x sizes x seeds
    # A study stopped after its first entries: only the rest is measured again.
    kept = dict(list(first.items())[:3])
    objects_as_features.write_results(kept, saved)
    calls.clear()
    again = objects_as_features.study(*args, saved=saved)
    assert len(calls) == (len(first) - 3) * 2
    assert {k: again[k] for k in kept} == kept
    assert objects_as_features.read_results(saved) == again


def test_the_peak_pursuit_finds_apart_squares_and_misses_touching_ones_in_a_wide_window():
    """Two 5-px squares apart, and two side by side: a window of their size puts each
    step's peak on a square's centre; one twice as wide puts the first peak of the
    touching pair between them, farther than ``near`` from either."""
    images = np.zeros([2, 20, 20, 1], np.float32)
    boxes = np.zeros([2, 3, 4], np.float32)
    for b, squares in enumerate([[(2, 2), (12, 12)], [(5, 2), (5, 7)]]):
        for k, (y, x) in enumerate(squares):
            images[b, y:y + 5, x:x + 5] = 1.0
            boxes[b, k] = y, x, y + 5, x + 5
    found, distance = peak_windows.pursue(images, boxes, 2, 5, 0, 0.5)
    assert found.all() and np.allclose(distance, 0)
    found, distance = peak_windows.pursue(images, boxes, 2, 10, 0, 0.5)
    assert not found[1] and distance.max() > 2


def test_count_failures_counts_as_detect_and_draws_each_present_box_in_its_colour(tmp_path):
    """q's count is the served ``detect``'s; the model's is a count it can have; in the
    picture each present box's corner is in its step's colour, an absent one's grey."""
    from supair_tf import PRESETS, Supair
    config = PRESETS['mnist'].replace(scene_height=20, scene_width=20, patch_size=8,
                                      lstm_units=8)
    model = Supair(config, seed=1, jit_compile=False)
    images = np.random.default_rng(0).uniform(size=[5, 20, 20, 1]).astype(np.float32) ** 3
    found = count_failures.counts_of(model, images, batch=2)
    detected = model.detect(images)
    np.testing.assert_array_equal(found['q'], detected.count)
    assert ((found['model'] >= 0) & (found['model'] <= config.steps)).all()
    # the picture, from boxes set by hand: the first present, the second absent
    z_pres = np.array([[0.9, 0.2, 0.1]] * 5, np.float32)
    boxes = np.array([[[4, 10, 14, 18], [8, 12, 18, 19], [0, 0, 0, 0]]] * 5, np.float32)
    path = str(tmp_path / 'failures.png')
    count_failures.draw(images, z_pres, boxes, path, scale=3, per_row=4)
    from PIL import Image
    picture = np.asarray(Image.open(path))
    assert picture.shape == (2 * 60, 4 * 60, 3)                # 5 tiles in rows of 4
    np.testing.assert_array_equal(picture[12, 30], count_failures.COLOURS[0])
    np.testing.assert_array_equal(picture[24, 36], (128, 128, 128))
    np.testing.assert_array_equal(picture[60 + 12, 30], count_failures.COLOURS[0])
