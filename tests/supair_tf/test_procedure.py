"""The training procedures: the authors' (the paper's q), and 'explore' (q's presence
probabilities held above a falling floor early on), which reads no count labels."""

import re

import numpy as np
import pytest
import tensorflow as tf

from datasets.core import SceneSet
from shared.training import Trainer
from supair_tf import PRESETS, Supair
from supair_tf.elbo import count_posterior

# The authors' procedure; tests name explore, whose warm-ups here are all on and ungated
# (the Multi-MNIST preset's before issue 50), unless a test says otherwise.
SMALL = PRESETS['mnist'].replace(scene_height=32, scene_width=32, batch_size=4,
                                 procedure='paper', explore_gate=0.0, explore_gate_each=False,
                                 explore_min_scale=0.55, explore_spread=5.0)


def scenes_with_digit_like_blobs(n=4):
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 0.05, [n, 32, 32, 1]).astype(np.float32)
    images[:, 4:14, 6:14] = 0.9
    images[:, 18:28, 18:27] = 0.8
    return images


def test_the_floor_falls_linearly_to_zero_and_the_papers_procedure_has_none():
    explore = Supair(SMALL.replace(procedure='explore', explore_floor=0.4, explore_steps=100),
                     jit_compile=False)
    floors = [float(explore.procedure.presence_floor(step))
              for step in (0, 25, 50, 100, 101, 10_000)]
    np.testing.assert_allclose(floors, [0.4, 0.3, 0.2, 0.0, 0.0, 0.0], atol=1e-7)
    paper = Supair(SMALL, jit_compile=False)
    assert float(paper.procedure.presence_floor(0)) == 0.0


def test_the_papers_procedure_learns_from_the_authors_objective_whatever_the_draw_carries():
    """A TrainingDraw with a floor changes nothing under procedure='paper': the loss and
    every gradient equal those of the z_where noise alone, bit for bit."""
    model = Supair(SMALL, seed=1, jit_compile=False)
    images = tf.constant(scenes_with_digit_like_blobs())
    draw = model.step_noise(4, 3)._replace(presence_floor=tf.constant(0.5))
    loss, grads = model.loss_and_gradients(images, draw)
    plain_loss, plain_grads = model.loss_and_gradients(images, draw.where)
    assert loss.numpy() == plain_loss.numpy()
    assert all(np.array_equal(a, b) for a, b in zip(grads, plain_grads, strict=True))


def test_explore_with_every_warm_up_off_learns_from_the_authors_objective_bit_for_bit():
    """A warm-up set to zero is left out of the graph, not added as a zero: explore with
    none is the authors' objective, and with the floor alone it differs from it."""
    images = tf.constant(scenes_with_digit_like_blobs())

    def loss_and_grads(**settings):
        model = Supair(SMALL.replace(**settings), seed=1, jit_compile=False)
        loss, grads = model.loss_and_gradients(images, model.step_noise(4, 3))
        return loss.numpy(), [g.numpy() for g in grads]

    off = dict(procedure='explore', explore_floor=0.0, explore_min_scale=0.0, explore_spread=0.0)
    paper, explore_off = loss_and_grads(), loss_and_grads(**off)
    assert paper[0] == explore_off[0]
    assert all(np.array_equal(a, b) for a, b in zip(paper[1], explore_off[1], strict=True))
    assert loss_and_grads(**{**off, 'explore_floor': 0.3})[0] != paper[0]


def test_a_floor_is_the_elbo_of_q_with_raised_presence_and_no_more_than_its_best_count():
    """With floor f the objective is eq. 9 of q'(z_pres) = f + (1 - f) z_pres: recomputed
    here from q'(N = n) (paper eq. 1) and the per-count joints; and, an expectation over
    q'(N), it is at most the best count's log p(x, z | n) - log q(z_where)."""
    model = Supair(SMALL.replace(procedure='explore'), seed=2, jit_compile=False)
    images = tf.constant(scenes_with_digit_like_blobs())
    noise = model.where_noise(4, 0)
    f = 0.3
    floored = model.elbo_graph(images, noise, tf.constant(f)).numpy()
    t = model.scene_terms(images, noise)
    objects = np.cumsum(np.concatenate(
        [np.zeros([4, 1]), (t.boxes.object_ll + t.boxes.overlap_lp).numpy()], 1), axis=1)
    joint = objects + t.boxes.bg_ll.numpy() + model.count_prior.numpy()        # [b, k + 1]
    z = f + (1 - f) * t.z_pres.numpy().astype(np.float64)
    q = np.stack([np.prod(z[:, :n], 1) * (1 - z[:, n]) for n in range(3)] + [np.prod(z, 1)], 1)
    assert np.all(q.min(1) > 0) and np.allclose(q.sum(1), 1)
    by_hand = np.sum(q * (joint - np.log(q) - t.log_q_where.numpy()[:, None]), 1)
    np.testing.assert_allclose(floored, by_hand, rtol=1e-5)
    np.testing.assert_allclose(count_posterior(tf.constant(z, tf.float32)).numpy(), q,
                               rtol=1e-5)
    best = joint.max(1) - t.log_q_where.numpy()
    assert np.all(floored <= best + 1e-3 * np.abs(best))


def test_without_the_overlap_bonus_each_expected_object_costs_log_rate():
    """The Gamma(1, rate) overlap term earns log(rate) per object at zero overlap; with
    share s of it the ELBO is the paper's minus (1 - s) log(rate) E_q[N]."""
    model = Supair(SMALL.replace(procedure='explore'), seed=4, jit_compile=False)
    images = tf.constant(scenes_with_digit_like_blobs())
    noise = model.where_noise(4, 0)
    paper = model.elbo_graph(images, noise).numpy()
    shared = model.elbo_graph(images, noise, bonus_share=tf.constant(0.25)).numpy()
    z_pres = model.scene_terms(images, noise).z_pres
    expected_count = np.sum(count_posterior(z_pres).numpy() * np.arange(4), axis=1)
    np.testing.assert_allclose(paper - shared, 0.75 * np.log(120.0) * expected_count,
                               rtol=1e-3)
    share = Supair(SMALL.replace(procedure='explore', overlap_warmup=200), jit_compile=False)
    np.testing.assert_allclose([float(share.procedure.bonus_share(t)) for t in (0, 50, 200, 900)],
                               [0.0, 0.25, 1.0, 1.0])
    assert float(Supair(SMALL, jit_compile=False).procedure.bonus_share(0)) == 1.0


def test_early_boxes_are_at_least_the_warm_ups_width_and_later_ones_the_presets():
    config = SMALL.replace(procedure='explore', explore_min_scale=0.6, explore_steps=100)
    model = Supair(config, seed=5, jit_compile=False)
    images = tf.constant(scenes_with_digit_like_blobs())
    widths = {}
    for step in (0, 50, 100):
        draw = model.step_noise(4, step)
        widths[step] = model.scene_terms(images, sample=False,
                                         min_scale=draw.min_scale).z_where[..., 0].numpy()
    assert widths[0].min() >= 0.6 - 1e-6 and widths[50].min() >= 0.45 - 1e-6
    # the same network output m maps to least + (max - least) m: at step 100, the preset's
    np.testing.assert_allclose(widths[100], model.scene_terms(images, sample=False)
                               .z_where[..., 0].numpy(), rtol=1e-6)
    assert widths[100].min() < 0.6 and np.all(widths[0] > widths[100])
    assert float(Supair(SMALL, jit_compile=False).procedure.min_scale(0)) == pytest.approx(0.3)


def test_the_spread_widens_q_of_the_box_position_only_and_is_scored_as_sampled():
    """z_where = mean + (std + spread [0, 0, 1, 1]) noise for the boxes after the first,
    and log q(z_where) is that Gaussian's density of the sample; widths, and the first
    box, keep q's own std."""
    model = Supair(SMALL.replace(procedure='explore', explore_spread=5.0, explore_steps=10),
                   seed=6, jit_compile=False)
    images = tf.constant(scenes_with_digit_like_blobs())
    draw = model.step_noise(4, 0)
    assert float(draw.spread) == 5.0 and float(model.procedure.spread(10)) == 0.0
    t = model.scene_terms(images, draw.where, spread=draw.spread)
    _, mean, std = (x.numpy() for x in model.inference(images))
    noise = draw.where.numpy()
    wide = std + np.array([[0, 0, 0, 0], [0, 0, 5.0, 5.0], [0, 0, 5.0, 5.0]])
    np.testing.assert_allclose(t.z_where.numpy(), mean + wide * noise, rtol=1e-5, atol=1e-4)
    log_q = np.sum(-0.5 * noise ** 2 - np.log(wide) - 0.5 * np.log(2 * np.pi), axis=(1, 2))
    np.testing.assert_allclose(t.log_q_where.numpy(), log_q, rtol=1e-4)


def test_boxes_q_would_not_use_still_learn_under_the_floor():
    """Where q says 'no object' (every z_pres near 0) the paper's objective gives the object
    SPN almost no gradient: no box counts. Under the floor every box counts with weight
    at least f^n, and the object SPN learns from it."""
    images = tf.constant(scenes_with_digit_like_blobs())

    def object_gradient(procedure):
        model = Supair(SMALL.replace(procedure=procedure), seed=0, jit_compile=False)
        bias = model.inference.trainable_variables[-1]     # the output layer's bias
        bias.assign(tf.tensor_scatter_nd_update(bias, [[0]], [-30.0]))   # z_pres ~ 1e-13
        z_pres = model.inference(images)[0].numpy()
        assert z_pres.max() < 1e-10, 'the z_pres output is not the first of the bias'
        _, grads = model.loss_and_gradients(images, model.step_noise(4, 0))
        spn = {id(v) for v in model.object_spn.trainable_variables}
        return np.sqrt(sum(float(tf.reduce_sum(g ** 2))
                           for v, g in zip(model.model_variables, grads, strict=True)
                               if id(v) in spn))

    paper, explore = object_gradient('paper'), object_gradient('explore')
    assert paper < 1e-6 and explore > 1e-3


def test_explore_trains_the_same_without_count_labels(tmp_path):
    """The procedure reads images only: the same run on unlabelled scenes (counts and
    boxes None) ends with the same parameters (reading counts would fail on None)."""
    images = np.tile(scenes_with_digit_like_blobs(), [2, 1, 1, 1])
    labelled = SceneSet(images, np.full(8, 2, np.int32), np.zeros([8, 2, 4], np.float32))
    unlabelled = SceneSet(images, None, None)

    def trained(train, folder):
        model = Supair(SMALL.replace(procedure='explore', explore_steps=4), seed=0,
                       jit_compile=False)
        Trainer(model, train, labelled, str(tmp_path / folder), steps_per_epoch=2,
                evals_per_epoch=1, verbose=0).fit(2)
        return [v.numpy() for v in model.model_variables]

    # To float32 rounding, which two runs of the same scenes differ by now and then (a CI
    # machine: 4e-7 in 4 of 262,144 weights): each Adam step moves a weight by about the
    # learning rate, 1e-3, so a difference of the labels' making is far above 1e-5.
    for a, b in zip(trained(labelled, 'a'), trained(unlabelled, 'b'), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_explore_ends_with_the_mean_of_its_last_epochs_and_trains_on_from_its_last(tmp_path):
    """With average_epochs=2 a 3-epoch run ends with the mean of the weights that the same
    run without averaging holds at the ends of epochs 2 and 3 (read from that run's own
    checkpoints); given a 4th epoch it trains on from its last weights, not the mean, so it
    ends with the mean of the plain run's epochs 3 and 4. The paper's procedure never
    averages, whatever average_epochs says."""
    images = np.tile(scenes_with_digit_like_blobs(), [2, 1, 1, 1])
    scenes = SceneSet(images, np.full(8, 2, np.int32), np.zeros([8, 2, 4], np.float32))

    def trained(average, folder, epochs):
        model = Supair(SMALL.replace(procedure='explore', explore_steps=4,
                                     average_epochs=average), seed=0, jit_compile=False)
        trainer = Trainer(model, scenes, scenes, str(tmp_path / folder), steps_per_epoch=2,
                          evals_per_epoch=1, verbose=0)
        trainer.fit(epochs)
        return model, trainer

    def mean_of_epoch_ends(model, trainer, steps):
        ends = []
        for path in trainer.state.folder.checkpoints():  # the newest three
            if int(path.rsplit('-', 1)[1]) in steps:
                tf.train.Checkpoint(model=model).read(path).expect_partial()
                ends.append([v.numpy() for v in model.model_variables])
        assert len(ends) == 2
        return [(a + b) / 2 for a, b in zip(*ends, strict=True)]

    for epochs, steps in ((3, (4, 6)), (4, (6, 8))):
        averaged, _ = trained(2, 'averaged', epochs)   # the second call resumes the first run
        plain, trainer = trained(0, 'plain', epochs)
        assert not (tmp_path / 'plain' / 'epoch_ends').exists()
        # To float32 rounding: without deterministic ops two runs differ now and then by that.
        for v, mean in zip(averaged.model_variables,
                           mean_of_epoch_ends(plain, trainer, steps), strict=True):
            np.testing.assert_allclose(v.numpy(), mean, rtol=1e-5, atol=1e-6)
    # plain holds its last weights (the newest checkpoint read last): the mean is not those
    assert any(not np.allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=0) for a, b in
               zip(averaged.model_variables, plain.model_variables, strict=True))
    assert Supair(SMALL.replace(average_epochs=3), jit_compile=False).averaged_epochs() == 0


@pytest.mark.parametrize('bad, message', [
    ({'procedure': 'anneal'}, "procedure must be 'paper' or 'explore'"),
    ({'explore_floor': 1.0}, 'explore_floor must be in [0, 1)'),
    ({'average_epochs': -1}, 'average_epochs must be >= 0')])
def test_a_bad_procedure_is_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SMALL.replace(**bad).validate()


def test_the_gate_lifts_the_warm_ups_in_proportion_to_the_first_boxs_use():
    model = Supair(PRESETS['sprites'].replace(explore_gate=0.2))
    floor, least = tf.constant(0.3), tf.constant(0.55)
    for use, share in ((0.0, 1.0), (0.05, 0.75), (0.2, 0.0), (0.6, 0.0)):
        z_pres = tf.constant([[use, 0.5, 0.0], [use, 0.2, 0.9]])  # later boxes: no matter
        np.testing.assert_allclose(model.procedure.gated(floor, 0.0, z_pres), 0.3 * share,
                                   atol=1e-6)
        np.testing.assert_allclose(model.procedure.gated(least, 0.3, z_pres),
                                   0.3 + 0.25 * share, atol=1e-6)
    assert model.procedure.gated(None, 0.0, z_pres) is None
    ungated = Supair(PRESETS['sprites'])
    assert ungated.procedure.gated(floor, 0.0, z_pres) is floor


def test_gated_each_box_floors_only_the_boxes_q_leaves_unused():
    model = Supair(PRESETS['mnist'].replace(procedure='explore', explore_gate=0.2,
                                            explore_gate_each=True))
    z_pres = tf.constant([[0.9, 0.05, 0.0], [0.7, 0.15, 0.0]])   # box means 0.8, 0.1, 0
    floor = model.procedure.gated(tf.constant(0.3), 0.0, z_pres, each_box=True)
    np.testing.assert_allclose(floor, [0.0, 0.15, 0.3], atol=1e-6)


def test_a_run_whose_first_box_is_used_trains_on_the_papers_objective_under_the_gate():
    """u >= gate: every warm-up at the paper's value, so the explore objective with the
    gate equals the authors' objective (whatever the warm-ups' scheduled values)."""
    config = PRESETS['sprites'].replace(scene_height=20, scene_width=20, patch_size=8,
                                        lstm_units=8, explore_gate=1e-4)
    gated, paper = (Supair(config.replace(procedure=p), seed=2, jit_compile=False)
                    for p in ('explore', 'paper'))
    for a, b in zip(paper.model_variables, gated.model_variables, strict=True):
        a.assign(b)
    images = tf.random.stateless_uniform([4, 20, 20, 1], [3, 4])
    draw = gated.step_noise(4, 0)    # step 0: the warm-ups at their strongest
    assert float(tf.reduce_mean(gated.inference(images)[0][:, 0])) > 1e-4
    loss_g, grads_g = gated.loss_and_gradients_graph(images, draw)
    loss_p, grads_p = paper.loss_and_gradients_graph(images, draw)
    np.testing.assert_allclose(loss_g, loss_p, rtol=1e-6)
    for g, p in zip(grads_g, grads_p, strict=True):
        np.testing.assert_allclose(g, p, rtol=1e-5, atol=1e-6)


def test_without_gating_the_width_the_least_width_runs_its_course_while_the_floor_is_gated():
    """--noexplore_gate_width: the boxes' least width is the scheduled warm-up's whatever q's
    use of the first box; gated (the default), a used first box brings back the paper's."""
    config = PRESETS['sprites'].replace(scene_height=20, scene_width=20, patch_size=8,
                                        lstm_units=8, explore_gate=1e-4)
    kinds = {'gated': config, 'free': config.replace(explore_gate_width=False),
             'ungated': config.replace(explore_gate=0.0),
             'paper': config.replace(procedure='paper')}
    models = {k: Supair(c, seed=2, jit_compile=False) for k, c in kinds.items()}
    for model in models.values():
        for a, b in zip(model.model_variables, models['gated'].model_variables, strict=True):
            a.assign(b)
    images = tf.random.stateless_uniform([4, 20, 20, 1], [3, 4])
    assert float(tf.reduce_mean(models['gated'].inference(images)[0][:, 0])) > 1e-4
    least = tf.constant(0.55)
    boxes = {k: m.scene_terms(images, sample=False, min_scale=None if k == 'paper' else least)
             .z_where.numpy() for k, m in models.items()}
    np.testing.assert_allclose(boxes['free'], boxes['ungated'], rtol=1e-6)
    np.testing.assert_allclose(boxes['gated'], boxes['paper'], rtol=1e-6)
    assert boxes['free'][..., :2].min() >= 0.55 - 1e-6
    assert np.abs(boxes['free'] - boxes['gated']).max() > 1e-3


@pytest.mark.parametrize('steps', [0, 21])
def test_n_max_outside_what_compiles_in_reasonable_time_is_refused_by_both_models(steps):
    from air_tf import AirConfig
    for config in (SMALL, AirConfig()):
        with pytest.raises(ValueError, match=re.escape(f'got {steps}')):
            config.replace(steps=steps).validate()
