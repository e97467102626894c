"""The exported SavedModel serves the trained model in a fresh process and refuses bad
images by name."""

import json
import os
import shutil

import numpy as np

from shared.model_card import read_card_text
from shared.version import VERSION
from tests.runs import SMALL, python, read_metrics


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
                  'elbo': elbo.numpy().tolist(),
                  'recon': model.reconstruct(images[:8]).numpy().tolist()}}))
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
    # The served reconstruction is the model's: the same SPN choices, objects resized by
    # the graph's bilinear weights instead of PIL's (a few hundredths at box edges).
    served, eager = np.array(loaded['recon']), model.reconstruct(test.images[:8])
    assert served.shape == eager.shape and np.abs(served - eager).mean() < 0.01
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


def test_every_saved_model_carries_a_model_card(trained_run, tmp_path):
    run_dir = trained_run[0]
    extra = os.path.join(run_dir, 'saved_model', 'assets.extra')
    with open(os.path.join(extra, 'model_card.json')) as f:
        card = json.load(f)
    assert card['model'] == 'SuPAIR' and card['dataset'] == 'sprites' and card['step'] == 20
    assert card['settings']['config']['bg_var_range'] == [0.002, 0.16]
    assert card['settings']['model'] == 'supair'
    rows = read_metrics(run_dir)
    assert abs(card['test']['count_accuracy'] - float(rows[-1]['test_count_acc'])) < 1e-9
    assert card['serving']['detect']['input'] == {'shape': ['n', 50, 50, 1], 'dtype': 'float32',
                                                  'range': [0.0, 1.0]}
    assert card['serving']['detect']['output']['z_where'] == ['n', 3, 4]
    made = card['made_by']
    assert made['supair_tf'] == VERSION and made['tensorflow'] and made['date'].startswith('20')
    assert made['git_commit'] is None or len(made['git_commit']) >= 40
    with open(os.path.join(extra, 'README')) as f:
        assert f.read().startswith('SuPAIR trained on sprites to step 20.')


def test_a_saved_model_from_before_model_cards_still_loads(trained_run, tmp_path):
    export_dir = str(tmp_path / 'old_export')
    shutil.copytree(os.path.join(trained_run[0], 'saved_model'), export_dir)
    for name in ('model_card.json', 'README'):
        os.remove(os.path.join(export_dir, 'assets.extra', name))
    assert read_card_text(export_dir) is None
    count = python(f"""
import numpy as np, tensorflow as tf
model = tf.saved_model.load({export_dir!r})
print(model.detect(np.zeros([2, 50, 50, 1], np.float32))['count'].numpy().tolist())
""").strip().splitlines()[-1]
    assert len(json.loads(count)) == 2  # it serves
