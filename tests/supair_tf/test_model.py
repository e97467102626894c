import itertools

import numpy as np
import pytest
import tensorflow as tf

from datasets import scenes
from rat_spn.reference import PerRegionRatSpn
from shared.evaluation import box_iou, scene_iou
from shared.training import make_optimizer, make_train_step
from supair_tf import PRESETS, Supair
from tests.supair_tf.test_elbo import brute_force_elbo


def test_default_preset_has_the_paper_parameter_counts():
    counts = Supair(PRESETS['mnist']).parameter_counts()
    assert counts == {'inference': 2836477, 'object_spn': 286560, 'background_spn': 90108,
                      'total': 3213145}


def test_ablation_has_no_background_parameters_and_uses_the_fixed_normal():
    model = Supair(PRESETS['noisy_mnist'].replace(background_model=False))
    assert model.parameter_counts()['background_spn'] == 0
    scene = np.full([1, 50, 50], 0.2, np.float32)
    masks = np.zeros([1, 4, 50, 50], np.float32)
    masks[0, 1] = 1.0
    masks[0, 2, :10] = 1.0
    got = model.background_log_lik(scene, masks).numpy()[0]
    per_pixel = -0.5 * (0.2 / 0.35) ** 2 - np.log(0.35 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(got, [0.0, 2500 * per_pixel, 500 * per_pixel, 0.0], rtol=1e-5)


def test_poon_domingos_structure_builds_scores_and_integrates_to_one():
    model = Supair(PRESETS['mnist'].replace(structure='poon_domingos'))
    elbo = model.elbo(np.zeros([2, 50, 50, 1], np.float32)).numpy()
    assert elbo.shape == (2,) and np.all(np.isfinite(elbo))
    # One pixel's marginal (all others integrated out), integrated over a fine grid.
    for spn in (model.object_spn, model.background_spn):
        grid = np.linspace(-4.0, 4.0, 4001, dtype=np.float32)
        x = np.zeros([len(grid), spn.num_items], np.float32)
        x[:, 7] = grid
        mask = np.ones_like(x)
        mask[:, 7] = 0.0
        density = np.exp(spn(x, marginalized=mask).numpy()[:, 0])
        assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-3)


def test_detect_boxes_follow_z_where():
    model = Supair(PRESETS['sprites'])
    out = model.detect(np.random.default_rng(0).uniform(0, 1, (4, 50, 50, 1)).astype(np.float32))
    sx, sy, x, y = np.moveaxis(out.z_where.numpy(), -1, 0)
    np.testing.assert_allclose(out.boxes.numpy(),
                               np.stack([y, x, y + 28 * sy, x + 28 * sx], -1), rtol=1e-6)
    assert np.all((sx >= 0.3) & (sx <= 0.9)) and np.all((sy / sx >= 0.75 - 1e-6) &
                                                        (sy / sx <= 1.25 + 1e-6))
    np.testing.assert_array_equal(out.count.numpy(), (out.z_pres.numpy() >= 0.5).sum(1))


def test_iou_matches_boxes_by_the_best_permutation():
    truth = np.array([[[0, 0, 10, 10], [20, 20, 30, 30]]], np.float32)
    found = np.array([[[20, 20, 30, 30], [0, 0, 10, 5], [0, 0, 0, 0]]], np.float32)
    present = np.array([[True, True, False]])
    assert box_iou(truth[0, 0], found[0, 1]) == pytest.approx(0.5)
    assert scene_iou(found, present, truth, np.array([2])) == pytest.approx(0.75)
    assert np.isnan(scene_iou(found, present, truth, np.array([1])))


@pytest.mark.parametrize('scenes, steps, most', [(400, 4, 3), (60, 7, 6)])
def test_iou_equals_a_per_scene_search_over_permutations(scenes, steps, most):
    rng = np.random.default_rng(3)
    counts = rng.integers(0, most + 1, scenes)
    corner = rng.uniform(0, 40, (scenes, steps + most, 2))
    size = rng.uniform(4, 20, (scenes, steps + most, 2))
    boxes = np.concatenate([corner, corner + size], -1).astype(np.float32)
    found, truth = boxes[:, :steps], boxes[:, steps:]
    present = rng.uniform(size=(scenes, steps)) < 0.5
    right = scenes // 2
    present[:right] = np.arange(steps) < counts[:right, None]  # some counts right for sure
    best = []
    for boxes_k, present_k, truth_k, count in zip(found, present, truth, counts, strict=False):
        if count == 0 or present_k.sum() != count:
            continue
        kept = boxes_k[present_k]
        iou = [[box_iou(a, b) for b in truth_k[:count]] for a in kept]
        best.append(max(np.mean([iou[i][j] for i, j in enumerate(order)])
                        for order in itertools.permutations(range(count))))
    assert len(best) > scenes // 4
    assert scene_iou(found, present, truth, counts) == pytest.approx(np.mean(best), rel=1e-6)


@pytest.fixture(scope='module')
def sprite_data():
    images, counts, _ = scenes.sprites(2300, np.random.default_rng(0))
    return images[..., None], counts


def test_train_step_traces_once_and_learns_to_count_sprites(sprite_data):
    """300 steps of 32 scenes; seen here: test ELBO 106.5 -> 739.4, count accuracy 0.707."""
    images, counts = sprite_data
    train, test, test_counts = images[:2000], images[2000:], counts[2000:]
    config = PRESETS['sprites'].replace(batch_size=32)
    model = Supair(config)
    train_step = make_train_step(model, make_optimizer(model))
    before = float(np.mean(model.elbo(test).numpy()))
    train_step(train[:32])
    traces = train_step.experimental_get_tracing_count()
    for step in range(1, 300):
        start = (step * 32) % (len(train) - 32)
        assert np.isfinite(float(train_step(train[start:start + 32])))
    assert train_step.experimental_get_tracing_count() == traces == 1
    after = float(np.mean(model.elbo(test).numpy()))
    accuracy = float(np.mean(model.detect(test).count.numpy() == test_counts))
    print(f'test ELBO {before:.1f} -> {after:.1f}, count accuracy {accuracy:.3f}')
    assert after > before + 200
    assert accuracy > 0.55  # chance is 1/3 (counts uniform over 0, 1, 2)


def test_seed_fixes_the_initial_parameters():
    def parameters(seed):
        return [v.numpy() for v in Supair(PRESETS['mnist'], seed=seed).model_variables]
    first, again, other = parameters(3), parameters(3), parameters(4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True)
                   if len(np.unique(a)) > 2)  # randomly initialised ones


def test_no_two_weights_start_with_the_same_values_and_the_lstm_kernel_is_one_glorot_draw():
    """TF1's BasicLSTMCell draws one Glorot-uniform kernel over [input, h] (fan-in
    2500 + 256, fan-out 4 * 256), every entry independent; no weight of the model may start
    as a copy of (a part of) another."""
    model = Supair(PRESETS['sprites'], seed=3)
    first_seen = {}
    for v in model.model_variables:
        rows = v.numpy().reshape(-1, v.shape[-1]) if len(v.shape) > 1 else v.numpy()[None]
        for i, row in enumerate(rows):
            if np.ptp(row) > 0:  # constant rows (biases) may repeat
                where = first_seen.setdefault(row.tobytes(), (v.path, i))
                assert where == (v.path, i), f'{v.path} row {i} repeats {where}'
    lstm = model.inference.lstm
    kernel = np.concatenate([lstm.kernel.numpy(), lstm.recurrent_kernel.numpy()])
    assert kernel.shape == (2756, 1024)
    limit = np.sqrt(6.0 / (2756 + 1024))
    assert limit * 0.999 < np.abs(kernel).max() <= limit
    # Variance of U(-l, l) is l^2 / 3; over 2.8M entries the estimate's relative error is ~5e-4.
    assert abs(kernel.var() / (limit ** 2 / 3) - 1) < 0.01
    assert abs(np.corrcoef(lstm.recurrent_kernel.numpy().ravel(),
                           lstm.kernel.numpy()[:256].ravel())[0, 1]) < 0.01


def test_each_structure_seed_draws_its_own_spn_structures():
    def leaf_regions(structure_seed):
        model = Supair(PRESETS['sprites'].replace(structure_seed=structure_seed))
        return model.object_spn.leaf_items, model.background_spn.leaf_items
    first, again, other = leaf_regions(1), leaf_regions(1), leaf_regions(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_compiled_step_equals_the_plain_per_region_float64_path(sprite_data):
    """The fast path (XLA, one tensor op per SPN level) against a plain one: no XLA and
    both SPNs evaluated region by region in float64 (the oracle of rat_spn.reference).

    Same parameters and z_where noise of std 2, so that boxes spread over and past the
    scene. Per-scene ELBOs agree to 1e-5 of the largest; every gradient to 1e-3 of its
    largest entry (float32 sums in another order)."""
    images = sprite_data[0][:32]
    fast = Supair(PRESETS['sprites'])
    plain = Supair(PRESETS['sprites'], jit_compile=False, spn_layer=PerRegionRatSpn)
    noise = 2.0 * fast.where_noise(32, 7)

    def elbo_and_gradients(model):
        with tf.GradientTape() as tape:
            elbo = model.elbo_graph(images, noise)
            loss = -tf.reduce_mean(elbo)
        return elbo.numpy(), tape.gradient(loss, model.model_variables)

    plain_elbo, plain_grads = elbo_and_gradients(plain)
    fast_loss, fast_grads = fast.loss_and_gradients(images, noise)
    scale = np.abs(plain_elbo).max()                       # ELBOs of either sign
    fast_elbo = tf.function(fast.elbo_graph, jit_compile=True)(images, noise).numpy()
    np.testing.assert_allclose(fast_elbo, plain_elbo, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(-float(fast_loss), plain_elbo.mean(), rtol=0, atol=1e-5 * scale)
    worst = 0.0
    for f, p in zip(fast_grads, plain_grads, strict=True):
        p = tf.convert_to_tensor(p).numpy()
        scale = np.abs(p).max()
        assert scale > 0
        worst = max(worst, np.abs(f.numpy() - p).max() / scale)
    print(f'largest gradient difference: {worst:.2e} of the largest entry')
    assert worst < 1e-3


RESIDUAL = PRESETS['mnist'].replace(scene_height=20, scene_width=20, patch_size=8,
                                    lstm_units=8, inference_reads='residual')


@pytest.mark.parametrize('reads, margin, whole', [('residual', 0.0, False),
                                                  ('residual', 1.5, False),
                                                  ('residual', 1.5, True),
                                                  ('residual_stateless', 0.0, False),
                                                  ('residual_presence', 1.5, False)])
def test_residual_inference_reads_the_scene_less_the_earlier_boxes(monkeypatch, reads, margin,
                                                                   whole):
    model = Supair(RESIDUAL.replace(inference_reads=reads, residual_margin=margin,
                                    residual_whole=whole), seed=1, jit_compile=False)
    images = tf.random.stateless_uniform([3, 20, 20, 1], [1, 2])
    lstm, read, states = model.inference.lstm, [], []
    step = lstm.step
    monkeypatch.setattr(lstm, 'step', lambda projected, h, c: read.append(projected)
                        or states.append((h.numpy(), c.numpy())) or step(projected, h, c))
    z_pres, mean, _ = (t.numpy() for t in model.inference(images))
    # Every step starts from the zero state when stateless, from the last step's otherwise;
    # with the presence read apart, each later step reads its residual twice: carried, then
    # from the zero state.
    if reads == 'residual_presence':
        assert len(states) == 2 * RESIDUAL.steps - 1
        assert all(np.array_equal(a, b) for a, b in zip(read[1::2], read[2::2], strict=True))
        assert all(not h.any() and not c.any() for h, c in states[2::2])
        read, states = read[:1] + read[1::2], states[:1] + states[1::2]
    carried = [np.abs(h).max() + np.abs(c).max() > 0 for h, c in states[1:]]
    assert carried == [reads != 'residual_stateless'] * (RESIDUAL.steps - 1)
    # Independently: each pixel's centre tested against the earlier boxes at q's means,
    # kept with weight prod_j (1 - z_pres_j [inside box j]).
    keep = np.ones([3, 20, 20])
    centres = np.arange(20) + 0.5
    for i in range(RESIDUAL.steps):
        seen = (images.numpy()[..., 0] * keep).reshape(3, -1)
        np.testing.assert_allclose(read[i], seen @ lstm.kernel.numpy() + lstm.bias.numpy(),
                                   rtol=1e-4, atol=1e-4)
        if reads == 'residual_presence':  # what the first step would say of the residual
            monkeypatch.setattr(lstm, 'step', step)
            alone = model.inference(tf.constant(seen.reshape(3, 20, 20, 1)))[0][:, 0]
            np.testing.assert_allclose(z_pres[:, i], alone, rtol=1e-5, atol=1e-6)
        sx, sy, x, y = mean[:, i].T
        inside = ((centres[None, None, :] >= (x - margin)[:, None, None])
                  & (centres[None, None, :] < (x + 8 * sx + margin)[:, None, None])
                  & (centres[None, :, None] >= (y - margin)[:, None, None])
                  & (centres[None, :, None] < (y + 8 * sy + margin)[:, None, None]))
        keep = keep * (1.0 - (1.0 if whole else z_pres[:, i, None, None]) * inside)
    assert (keep < 1).any()   # the boxes took something out


def test_the_peak_is_the_window_holding_the_most_ink():
    from supair_tf.inference import peak_centres
    images = np.random.default_rng(4).uniform(size=[5, 12, 15, 2]).astype(np.float32) ** 4
    got = peak_centres(tf.constant(images), 5).numpy()
    ink = np.pad(images.sum(-1), [[0, 0], [2, 2], [2, 2]])         # windows past the edge
    for b in range(5):
        sums = np.array([[ink[b, r:r + 5, q:q + 5].sum() for q in range(15)] for r in range(12)])
        r, q = np.unravel_index(np.argmax(sums), sums.shape)
        np.testing.assert_array_equal(got[b], [q + 0.5, r + 0.5])


def test_a_peak_without_a_residual_is_refused():
    with pytest.raises(ValueError, match='residual_peak .* needs a residual inference_reads'):
        RESIDUAL.replace(inference_reads='scene', residual_peak=True).validate()
    RESIDUAL.replace(residual_peak=True).validate()
    with pytest.raises(ValueError, match='residual_peak_window .* needs residual_peak'):
        RESIDUAL.replace(residual_peak_window=5).validate()
    with pytest.raises(ValueError, match='residual_peak_margin .* needs residual_peak'):
        RESIDUAL.replace(residual_peak_margin=2.0).validate()


@pytest.mark.parametrize('reads, chosen, beyond', [('residual', 0, 0), ('residual_presence', 0, 0),
                                                   ('residual', 3, 0), ('residual', 0, 2.5)])
def test_a_peak_box_sits_within_a_quarter_patch_of_its_residuals_peak(reads, chosen, beyond):
    """Each box's centre is its step's residual peak (computed here from the boxes before
    it, in a window of the mean box width or of ``residual_peak_window``, each earlier box
    left out of the search with ``residual_peak_margin`` more pixels around it) moved by at
    most A / 4, whatever the count of objects in the scene."""
    config = RESIDUAL.replace(inference_reads=reads, residual_peak=True, residual_margin=1.0,
                              residual_whole=True, residual_peak_window=chosen,
                              residual_peak_margin=beyond)
    model = Supair(config, seed=3, jit_compile=False)
    images = np.zeros([4, 20, 20, 1], np.float32)
    for b, corners in enumerate([[(2, 3)], [(2, 3), (12, 12)], [(12, 2), (3, 12), (11, 11)],
                                 []]):
        for y, x in corners:
            images[b, y:y + 5, x:x + 5] = 1.0
    _, mean, _ = (t.numpy() for t in model.inference(tf.constant(images)))
    keep, centres, window = np.ones([4, 20, 20]), np.arange(20) + 0.5, chosen or round(8 * 0.6)
    pad = [(window - 1) // 2, window // 2]                       # a window centred on its pixel
    ink = np.pad(images[..., 0], [[0, 0], pad, pad])
    for i in range(config.steps):
        sums = np.stack([[[(ink[b] * np.pad(keep[b], pad))[r:r + window, q:q + window].sum()
                           for q in range(20)] for r in range(20)] for b in range(4)])
        rows, cols = np.unravel_index(np.argmax(sums.reshape(4, -1), axis=1), (20, 20))
        sx, sy, x, y = mean[:, i].T
        moved = np.stack([x + 4 * sx - cols - 0.5, y + 4 * sy - rows - 0.5], 1)
        assert np.abs(moved).max() <= 8 / 4 + 1e-4
        m = 1 + beyond
        inside = ((centres[None, None, :] >= (x - m)[:, None, None])
                  & (centres[None, None, :] < (x + 8 * sx + m)[:, None, None])
                  & (centres[None, :, None] >= (y - m)[:, None, None])
                  & (centres[None, :, None] < (y + 8 * sy + m)[:, None, None]))
        keep = keep * (1.0 - inside)


@pytest.mark.parametrize('reads, whole', [('residual', False), ('residual_stateless', False),
                                         ('residual', True), ('residual_presence', False)])
def test_residual_inference_leaves_the_elbo_a_sum_over_the_count(reads, whole):
    """q is still a function of the scene: the ELBO is eq. 9's sum over n of q(n) terms,
    and its first step is the paper's inference net's, weights and all."""
    residual = Supair(RESIDUAL.replace(inference_reads=reads, residual_whole=whole), seed=2,
                      jit_compile=False)
    paper = Supair(RESIDUAL.replace(inference_reads='scene'), seed=2, jit_compile=False)
    for a, b in zip(residual.model_variables, paper.model_variables, strict=True):
        np.testing.assert_array_equal(a, b)
    images = tf.random.stateless_uniform([2, 20, 20, 1], [3, 4])
    noise = residual.where_noise(2, 0)
    t = residual.scene_terms(images, noise)
    want = [brute_force_elbo(z, o, bg, lq) for z, o, bg, lq in zip(
        t.z_pres.numpy(), (t.boxes.object_ll + t.boxes.overlap_lp).numpy(),
        t.boxes.bg_ll.numpy(), t.log_q_where.numpy(), strict=True)]
    np.testing.assert_allclose(residual.elbo_graph(images, noise), want, rtol=1e-4)
    np.testing.assert_allclose(residual.inference(images)[0][:, 0],
                               paper.inference(images)[0][:, 0], rtol=1e-6)


def test_the_graphs_paste_equals_pil_at_the_patch_size_and_nearly_when_resized():
    from supair_tf.paste import paste_objects, paste_objects_graph
    rng = np.random.default_rng(3)
    objects = rng.uniform(size=[4, 2, 8, 8, 1]).astype(np.float32)
    scenes = rng.uniform(size=[4, 20, 20, 1]).astype(np.float32)
    count = np.array([0, 1, 2, 2])
    for scale, atol in ((1.0, 1e-6), (1.5, 0.05)):
        z_where = np.stack([np.full([4, 2], scale), np.full([4, 2], scale),
                            rng.integers(-2, 15, [4, 2]), rng.integers(-2, 15, [4, 2])],
                           -1).astype(np.float32)
        want = scenes.copy()
        paste_objects(want, objects, z_where, count, 8)
        got = paste_objects_graph(tf.constant(scenes), objects, z_where, count, 8).numpy()
        assert np.abs(got - want).mean() < atol and (got != scenes).any()
        np.testing.assert_array_equal(got[0], scenes[0])          # nothing found there


def test_box_widths_and_aspects_span_their_bounds_and_a_bad_range_is_refused():
    """q's box widths run from min_obj_scale to max_obj_scale of the patch and their
    heights from min_aspect to max_aspect times the width, whatever the bounds (the
    paper's 0.3-0.9 and 0.75-1.25, or a wider least box and a taller max_aspect)."""
    for narrowest, tallest in ((0.3, 1.25), (0.45, 2.0)):
        model = Supair(RESIDUAL.replace(min_obj_scale=narrowest, max_aspect=tallest), seed=0,
                       jit_compile=False)
        out = tf.constant([[[0.0, -30.0, -30.0, 0.0, 0.0, 0, 0, 0, 0],
                            [0.0, 30.0, 30.0, 0.0, 0.0, 0, 0, 0, 0]]])
        _, mean, _ = model.inference.step_parameters(out, None)
        aspect = (mean[..., 1] / mean[..., 0]).numpy()[0]
        np.testing.assert_allclose(aspect, [0.75, tallest], rtol=1e-5)
        np.testing.assert_allclose(mean[0, :, 0], [narrowest, 0.9], rtol=1e-5)
    with pytest.raises(ValueError, match='min_aspect <= max_aspect'):
        RESIDUAL.replace(max_aspect=0.5).validate()
    with pytest.raises(ValueError, match='min_obj_scale <= max_obj_scale'):
        RESIDUAL.replace(min_obj_scale=0.95).validate()
