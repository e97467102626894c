"""AIR against mathematics: the count prior, the score-function surrogate (NVIL, VIMCO)
against the gradient of the expected ELBO or bound by enumeration of z_pres, the summed
count against that enumeration, Table 1's counts, PyTorch's
initial distributions."""

import numpy as np
import pytest
import tensorflow as tf

from air_tf import PRESETS, Air, AirConfig
from air_tf.model import count_prior, count_prior_trials

TINY = AirConfig(scene_height=12, scene_width=12, window_size=6, steps=2, z_what_size=3,
                 rnn_hidden_size=8, encoder_hidden=(5,), decoder_hidden=(5,),
                 predict_hidden=(5,), baseline_hidden=(4,), batch_size=2, train_scenes=6,
                 scale_prior_mean=1.5)


@pytest.mark.parametrize('k, steps', [(0.01, 3), (0.5, 3), (0.3, 5), (1.0, 2)])
def test_the_count_prior_sums_to_one_and_is_a_truncated_geometric(k, steps):
    prior = count_prior(k, steps)
    assert prior.shape == (steps + 1,) and abs(prior.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(prior[1:] / prior[:-1], k, rtol=1e-10)
    # The chain the model samples: go on at step t with probability p_t.
    trials = count_prior_trials(k, steps)
    going = np.concatenate([[1.0], np.cumprod(trials)])
    np.testing.assert_allclose(going[:-1] - going[1:], prior[:-1], rtol=1e-10)


def test_the_paper_prior_puts_almost_all_mass_on_no_object():
    # --z-pres-prior 0.01: P(N = n) = 0.01^n / (1 + 0.01 + 0.01^2 + 0.01^3)
    np.testing.assert_allclose(count_prior(0.01, 3), np.array([1, 1e-2, 1e-4, 1e-6]) / 1.010101,
                               rtol=1e-6)


def scenes(n, config, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1, (n, config.scene_height, config.scene_width, 1))
    return tf.constant(images * (rng.uniform(size=images.shape) < 0.3), tf.float32)


@pytest.mark.parametrize('background', [False, True])
def test_the_surrogate_gradient_in_expectation_over_z_pres_is_the_elbo_gradient(background):
    """Enumerate every count (z_pres = 1 for the first n steps): with z_where and z_what
    noise fixed, sum_n q(n) grad surrogate_loss(n) equals -S grad sum_n q(n) ELBO(n), for
    every parameter but the baselines' (S: the data plate's scale); with a background too
    (its cost downstream of every z_pres)."""
    config = TINY.replace(air_background=background, background_size=4)
    model = Air(config, seed=3, jit_compile=False)
    images = scenes(2, TINY)
    eps = tf.random.stateless_normal([2, TINY.steps + background, 3 + TINY.z_what_size],
                                     [1, 2])
    configs = []
    for n in range(TINY.steps + 1):  # u = 0 turns a step on (p > 0), u = 1 off
        u = tf.constant([[0.0] * n + [1.0] * (TINY.steps - n)] * 2)
        configs.append((u, eps))
    baselines = {v.ref() for v in model.parameter_groups()[1][2]}
    expected, weights = None, []
    with tf.GradientTape() as tape:
        objective = 0.0
        for noise in configs:
            steps = model.guide(images, noise)
            terms = model.elbo_terms(images, steps)
            q = tf.exp(tf.reduce_sum(terms.log_q_pres, 1))        # q(n) per scene
            weights.append(q)
            objective += tf.reduce_sum(q * (terms.log_p - terms.log_q))
    exact = tape.gradient(objective, model.model_variables)
    for noise, q in zip(configs, weights, strict=True):
        for scene in range(2):  # per scene: its q(n) weighs its own surrogate
            _, grads = model.loss_and_gradients(images[scene:scene + 1],
                                                tuple(x[scene:scene + 1] for x in noise))
            weighted = [float(q[scene]) * g.numpy() for g in grads]
            expected = weighted if expected is None else [
                a + b for a, b in zip(expected, weighted, strict=True)]
    # q sums to one over the counts, per scene
    np.testing.assert_allclose(tf.add_n(weights).numpy(), 1.0, rtol=1e-5)
    compared = 0
    for variable, mine, truth in zip(model.model_variables, expected, exact, strict=True):
        if variable.ref() in baselines:
            continue
        truth = -TINY.data_scale * truth.numpy()
        assert np.linalg.norm(mine - truth) <= 2e-4 * np.linalg.norm(truth) + 1e-6, variable.name
        compared += 1
    assert compared == len(model.parameter_groups()[0][2])


def test_the_baselines_regress_the_downstream_cost():
    """The baselines' gradient is that of sum (S cost_t - b_t)^2 and nothing else."""
    model = Air(TINY, seed=1, jit_compile=False)
    images = scenes(2, TINY, seed=4)
    noise = model.step_noise(2, 7)
    _, grads = model.loss_and_gradients(images, noise)
    group = model.parameter_groups()[1][2]
    with tf.GradientTape() as tape:
        terms = model.elbo_terms(images, model.guide(images, noise))
        cost = TINY.data_scale * (tf.cumsum(terms.site_costs, 1, reverse=True)
                                  + terms.log_lik[:, None])
        loss = tf.reduce_sum(tf.square(tf.stop_gradient(cost) - terms.baseline))
    truth = tape.gradient(loss, group)
    mine = grads[-len(group):]
    for a, b in zip(mine, truth, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_table_1_groups_with_the_head_the_paper_counts():
    counts = Air(PRESETS['mnist'].replace(baseline_hidden=()), seed=0).parameter_counts()
    assert counts['inference_lstm'] == 2_879_488
    assert counts['object_model'] == 344_884
    assert counts['baselines'] == 2_879_745
    assert counts['inference_lstm'] + counts['object_model'] + counts['baselines'] == 6_104_117


def test_the_recommended_settings_count_what_pyro_instantiates():
    counts = Air(PRESETS['mnist'], seed=0).parameter_counts()
    # Pyro's AIR with these settings: rnn 2,879,488, encode 177,100 + decode 167,784,
    # predict 52,807, bl_rnn 2,879,488 + bl_predict 51,601, and 1,077 initial-state values.
    assert counts == {'inference_lstm': 2_879_488, 'object_model': 344_884,
                      'baselines': 2_931_089, 'predict': 52_807, 'initial_states': 1_077,
                      'total': 6_209_345}


def test_initial_values_follow_pytorchs_distributions():
    model = Air(PRESETS['mnist'], seed=5)
    lstm_bound = 1 / np.sqrt(256)
    for v in (model.rnn.input_kernel, model.rnn.hidden_kernel, model.rnn.input_bias,
              model.rnn.hidden_bias):
        x = v.numpy()
        assert np.abs(x).max() <= lstm_bound and np.abs(x).max() > 0.99 * lstm_bound
        assert abs(x.std() - lstm_bound / np.sqrt(3)) < 0.02 * lstm_bound
    first = model.encode.layers[0]  # nn.Linear(784, 200): U(-1/28, 1/28)
    for x in (first.kernel.numpy(), first.bias.numpy()):
        assert np.abs(x).max() <= 1 / 28 and np.abs(x).max() > 0.95 / 28
    assert not np.any(model.h_init.numpy()) and not np.any(model.z_what_init.numpy())
    other = Air(PRESETS['mnist'], seed=6)
    assert not np.allclose(other.rnn.input_bias.numpy(), model.rnn.input_bias.numpy())


def test_detection_stops_at_the_first_step_q_says_no_and_counts_the_steps_before(monkeypatch):
    """q's presence logits set per scene and step (the predict net's other outputs kept):
    the greedy pass counts the steps before the first 'no', a later 'yes' stays off, and
    z_pres is q's probability times the previous step's choice."""
    config = TINY.replace(steps=3)
    model = Air(config, seed=2)
    logits = np.array([[5.0, -5.0, 5.0],    # one object; the third step's yes stays off
                       [-5.0, 5.0, 5.0],    # none
                       [5.0, 5.0, -5.0],    # two
                       [5.0, 5.0, 5.0]],    # three
                      np.float32)
    calls, predict = [], model.predict

    def steered(h):
        out = predict(h)
        t = len(calls) % config.steps
        calls.append(t)
        return tf.concat([tf.constant(logits)[:, t:t + 1], out[:, 1:]], 1)

    monkeypatch.setattr(model, 'predict', steered)
    out = model.detect(scenes(4, config))
    np.testing.assert_array_equal(out.count.numpy(), [1, 0, 2, 3])
    on = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 1]], np.float32)
    previous = np.concatenate([np.ones([4, 1]), on[:, :-1]], 1)
    np.testing.assert_allclose(out.z_pres.numpy(), previous / (1 + np.exp(-logits)), rtol=1e-6)
    assert out.z_where.shape == (4, 3, 3) and out.boxes.shape == (4, 3, 4)


DAIR = TINY.replace(guide_input='error', steps=3)


def test_dair_with_the_scene_as_its_guides_input_is_air_bit_for_bit(monkeypatch):
    air, dair = Air(DAIR.replace(guide_input='image'), seed=4), Air(DAIR, seed=4)
    assert (air.label, dair.label) == ('AIR', 'DAIR')
    assert air.parameter_counts() == dair.parameter_counts()  # the same networks
    monkeypatch.setattr(dair, 'guide_sees', lambda flat, canvas: flat)
    images = scenes(2, DAIR)
    noise = air.step_noise(2, 5)
    for model in (air, dair):
        model.result = model.loss_and_gradients(images, noise)
    np.testing.assert_array_equal(air.result[0], dair.result[0])
    for a, d in zip(air.result[1], dair.result[1], strict=True):
        np.testing.assert_array_equal(a, d)


def test_dairs_error_canvas_is_the_negated_scene_then_the_objects_found_so_far(monkeypatch):
    dair, air = Air(DAIR, seed=5, jit_compile=False), Air(DAIR.replace(guide_input='image'),
                                                          seed=5, jit_compile=False)
    images = scenes(2, DAIR)
    flat = tf.reshape(images, [2, -1])
    seen = []
    reads = dair.guide_sees
    monkeypatch.setattr(dair, 'guide_sees',
                        lambda flat, canvas: seen.append(canvas) or reads(flat, canvas))
    noise = (tf.zeros([2, 3]), tf.random.stateless_normal([2, 3, 3 + DAIR.z_what_size], [0, 1]))
    steps = dair.guide(images, noise)   # u = 0: every step present
    np.testing.assert_array_equal(reads(flat, seen[0]), -flat)
    # x^i: the mean of p(x | z^1 .. z^{i-1}), the decoded objects of the earlier steps.
    for i in (1, 2):
        drawn = dair.render(*([s.state.z_pres for s in steps[:i]],
                              [s.state.z_where for s in steps[:i]],
                              [s.state.z_what for s in steps[:i]]))
        np.testing.assert_allclose(seen[i], tf.reshape(drawn, [2, -1]), atol=1e-6)
    # Its first step is AIR's on the negated scene: the LSTM reads nothing else yet.
    first = air.guide(-images, noise)[0]
    np.testing.assert_allclose(steps[0].pres_prob, first.pres_prob, rtol=1e-6)
    np.testing.assert_allclose(steps[0].state.z_where, first.state.z_where, rtol=1e-6)


def test_dairs_baseline_trains_only_itself_though_its_input_depends_on_the_model():
    """The error canvas is made by the decoder from the guide's samples; the baseline's
    squared error must reach the baseline's own parameters only (Pyro's baseline sees
    its inputs detached), or its huge scaled cost trains the model."""
    dair = Air(DAIR, seed=6, jit_compile=False)
    images = scenes(3, DAIR)
    groups = {name: variables for name, _, variables in dair.parameter_groups()}
    with tf.GradientTape(persistent=True) as tape:
        terms = dair.elbo_terms(images, dair.guide(images, dair.step_noise(3, 0)))
        target = tf.stop_gradient(terms.baseline + 1.0)
        loss = tf.reduce_sum(tf.square(target - terms.baseline))
    model_grads = tape.gradient(loss, groups['model'])
    assert all(g is None or not np.any(g.numpy()) for g in model_grads)
    assert any(g is not None and np.any(g.numpy())
               for g in tape.gradient(loss, groups['baselines']))


def count_noise(counts, steps, eps):
    """Guide noise that turns on the first ``counts[i]`` steps of row i (u = 0: on, 1: off)
    with the z_where and z_what noise ``eps``."""
    u = tf.constant([[0.0] * n + [1.0] * (steps - n) for n in counts])
    return u, eps


def test_the_summed_elbo_is_the_expectation_over_the_count_and_so_is_its_gradient():
    """--estimator=summed against enumeration: with z_where and z_what noise fixed, its ELBO
    is sum_n q(n) ELBO(n) of the single-sample ELBOs with z_pres on for the first n steps,
    and its gradient -S times that sum's (no baseline learns). (With a background, q(z_bg)
    reads the all-present pass's last state, so the count-n guide's would differ.)"""
    config = TINY.replace(estimator='summed')
    model = Air(config, seed=3, jit_compile=False)
    images = scenes(2, config, seed=5)
    eps = tf.random.stateless_normal([2, config.steps, 3 + config.z_what_size], [3, 4])
    with tf.GradientTape() as tape:
        enumerated = 0.0
        for n in range(config.steps + 1):
            terms = model.elbo_terms(images, model.guide(images,
                                                         count_noise([n, n], config.steps, eps)))
            q = tf.exp(tf.reduce_sum(terms.log_q_pres, 1))
            enumerated += q * (terms.log_p - terms.log_q)
        total = tf.reduce_sum(enumerated)
    exact = tape.gradient(total, model.model_variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    loss, grads = model.loss_and_gradients(images, (tf.zeros([2, config.steps]), eps))
    elbo, _ = model.summed_objective(images, (tf.zeros([2, config.steps]), eps))
    np.testing.assert_allclose(elbo.numpy(), enumerated.numpy(), rtol=1e-5)
    np.testing.assert_allclose(float(loss), -float(total) / 2, rtol=1e-5)
    baselines = {v.ref() for v in model.parameter_groups()[1][2]}
    for variable, mine, truth in zip(model.model_variables, grads, exact, strict=True):
        truth = 0.0 * truth if variable.ref() in baselines else -config.data_scale * truth
        assert np.linalg.norm(mine - truth) <= 1e-4 * np.linalg.norm(truth) + 1e-6, \
            variable.name


def test_vimcos_bound_is_the_log_mean_weight_and_its_baselines_leave_one_sample_out():
    from air_tf.densities import leave_one_out_bounds
    config = TINY.replace(estimator='vimco', vimco_samples=3)
    model = Air(config, seed=2, jit_compile=False)
    images = scenes(2, config, seed=6)
    noise = model.step_noise(2, 11)
    assert noise[0].shape == (6, config.steps)
    single = tf.stack([model.elbo_graph(images, tuple(x[2 * k:2 * k + 2] for x in noise))
                       for k in range(3)])                              # [K, b]
    elbo, surrogate = model.vimco_objective(images, noise)
    np.testing.assert_allclose(elbo.numpy(), single.numpy().mean(0), rtol=1e-5)
    log_w = single.numpy().astype(np.float64)
    bound = np.log(np.mean(np.exp(log_w - log_w.max(0)), 0)) + log_w.max(0)
    assert np.all(bound >= log_w.mean(0))                               # Jensen
    for k in range(3):
        replaced = log_w.copy()
        replaced[k] = np.delete(log_w, k, 0).mean(0)
        top = replaced.max(0)
        expected = np.log(np.mean(np.exp(replaced - top), 0)) + top
        np.testing.assert_allclose(leave_one_out_bounds(tf.constant(log_w, tf.float32))[k],
                                   expected, rtol=1e-5)


def test_vimcos_gradient_in_expectation_over_z_pres_is_the_bounds_gradient():
    """Enumerate the counts of K = 2 samples of one scene (z_where and z_what noise fixed):
    sum q(n1) q(n2) grad surrogate(n1, n2) equals -S grad sum q(n1) q(n2) bound(n1, n2), the
    leave-one-out baselines adding no bias."""
    config = TINY.replace(estimator='vimco', vimco_samples=2)
    model = Air(config, seed=4, jit_compile=False)
    image = scenes(1, config, seed=7)
    tiled = tf.tile(image, [2, 1, 1, 1])
    eps = tf.random.stateless_normal([2, config.steps, 3 + config.z_what_size], [5, 6])
    pairs = [(a, b) for a in range(config.steps + 1) for b in range(config.steps + 1)]
    expected = None
    with tf.GradientTape() as tape:
        total = 0.0
        for counts in pairs:
            terms = model.elbo_terms(tiled, model.guide(tiled, count_noise(counts, config.steps,
                                                                           eps)))
            q = tf.exp(tf.reduce_sum(terms.log_q_pres))                 # q(n1) q(n2)
            bound = tf.reduce_logsumexp(terms.log_p - terms.log_q) - np.log(2.0)
            total += q * bound
            _, grads = model.loss_and_gradients(image, count_noise(counts, config.steps, eps))
            weighted = [float(q) * g.numpy() for g in grads]
            expected = weighted if expected is None else [
                x + y for x, y in zip(expected, weighted, strict=True)]
    exact = tape.gradient(total, model.model_variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    for variable, mine, truth in zip(model.model_variables, expected, exact, strict=True):
        truth = -config.data_scale * truth.numpy()
        assert np.linalg.norm(mine - truth) <= 2e-4 * np.linalg.norm(truth) + 1e-6, \
            variable.name


def test_an_unknown_estimator_is_refused_by_name():
    with pytest.raises(ValueError, match="estimator must be one of nvil, vimco, summed, relaxed"):
        TINY.replace(estimator='reinforce').validate()
    with pytest.raises(ValueError, match='vimco_samples must be at least 2'):
        TINY.replace(estimator='vimco', vimco_samples=1).validate()


def test_the_binary_concrete_density_integrates_to_one_and_is_positive_as_often_as_q_says():
    from air_tf.densities import concrete_log_density
    y = np.linspace(-60, 60, 240001)
    for logit, temperature in ((0.7, 1.0), (-2.0, 0.5), (3.0, 2.0)):
        density = np.exp(concrete_log_density(tf.constant(y, tf.float64), logit,
                                              temperature).numpy())
        np.testing.assert_allclose(np.trapezoid(density, y), 1.0, rtol=1e-6)
        np.testing.assert_allclose(np.trapezoid(density * (y > 0), y),
                                   1 / (1 + np.exp(-logit)), rtol=1e-3)


def test_the_relaxed_priors_odds_fall_tenfold_every_anneal_steps_to_their_end():
    model = Air(TINY.replace(estimator='relaxed'), jit_compile=False)
    for step, odds in ((0, 1e4), (2999, 1e4), (3000, 1e3), (9000, 1e1), (10**6, 1e-9)):
        np.testing.assert_allclose(float(model.prior_logit(step)), np.log(odds), rtol=1e-5)


def test_a_cold_relaxed_guide_is_the_discrete_one_and_its_likelihood_the_same():
    """At a low temperature the Binary Concrete z_pres of uniform u is the Bernoulli sample
    [1 - u < q] (the logistic noise of u is -(that of 1 - u)), and the relaxed objective's
    canvas is the discrete guide's."""
    config = TINY.replace(estimator='relaxed', relaxed_temperature=1e-4)
    model = Air(config, seed=5, jit_compile=False)
    images = scenes(2, config, seed=8)
    u, eps = model.draw_noise(2, 3)
    relaxed = model.guide(images, (u, eps), relaxed=True)
    discrete = model.guide(images, (1.0 - u, eps))
    for r, d in zip(relaxed, discrete, strict=True):
        np.testing.assert_allclose(r.state.z_pres.numpy(), d.state.z_pres.numpy(), atol=1e-6)
    canvas = lambda steps: model.render(*([getattr(s.state, k) for s in steps]  # noqa: E731
                                          for k in ('z_pres', 'z_where', 'z_what')))
    np.testing.assert_allclose(canvas(relaxed).numpy(), canvas(discrete).numpy(), atol=1e-5)
    loss, grads = model.loss_and_gradients(images, (u, eps, tf.constant(0.0)))
    assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g)) for g in grads)


def test_a_background_adds_its_networks_after_airs_and_its_decoded_image_under_the_objects():
    air = Air(TINY, seed=6, jit_compile=False)
    with_bg = Air(TINY.replace(air_background=True, background_size=4), seed=6, jit_compile=False)
    parts = ('rnn', 'encode', 'decode', 'predict', 'bl_rnn', 'bl_predict', 'initial_states')
    for a, b in zip(air._variables(*parts), with_bg._variables(*parts), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())   # AIR's initial values stay
    assert with_bg.parameter_counts()['background'] == (
        (8 * 8 + 8) + (4 * 200 + 200) + (200 * 144 + 144))   # propose; decode via 200
    images = scenes(2, TINY, seed=9)
    steps = with_bg.guide(images)        # greedy: z_bg is q's mean
    z_bg, _ = steps[-1].background
    objects = air.render(*([getattr(s.state, k) for s in steps]
                           for k in ('z_pres', 'z_where', 'z_what')))
    background = tf.reshape(tf.sigmoid(with_bg.bg_decode(z_bg)), [2, 12, 12])
    np.testing.assert_allclose(with_bg.rebuilt(steps)[..., 0],
                               np.clip(objects + background, 0, 1), atol=1e-6)
    terms = with_bg.elbo_terms(images, with_bg.guide(images, with_bg.draw_noise(2, 1)))
    np.testing.assert_allclose(terms.canvas.numpy().min(), background.numpy().min(), atol=0.5)


def numpy_normal(x, loc, sd):
    return np.sum(-0.5 * ((x - loc) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi), -1)


def test_log_p_and_log_q_of_one_sample_equal_a_numpy_computation_of_the_papers_densities(
        monkeypatch):
    """One fixed guide sample on three scenes (object, none, every step on): log p(x, z)
    and log q(z | x) written out in numpy from the networks' raw outputs and the paper's
    numbers (Pyro's example): P(N = n) proportional to 0.01^n, z_where ~ N((3, 0, 0),
    (0.2, 1, 1)), z_what ~ N(0, I) and both counted only for present objects, pixels
    N(canvas, 0.3); q's z_pres Bernoulli(sigmoid(o)), z_where N(o + (3, 0, 0), softplus(o)
    (0.2, 1, 1)), z_what N(mean, softplus(.))."""
    config = TINY.replace(steps=3, scale_prior_mean=3.0)
    model = Air(config, seed=5, jit_compile=False)
    outputs = {'predict': [], 'encode': []}
    for name in outputs:
        net = getattr(model, name)
        monkeypatch.setattr(model, name, lambda x, net=net, name=name:
                            outputs[name].append(net(x)) or outputs[name][-1])
    images = scenes(3, config, seed=4)
    u = tf.constant([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # p in (0, 1)
    eps = tf.random.stateless_normal([3, 3, 3 + config.z_what_size], [7, 8])
    steps = model.guide(images, (u, eps))
    terms = model.elbo_terms(images, steps)

    z = config.z_what_size
    pres = np.stack([s.state.z_pres.numpy() for s in steps], 1)
    assert pres.tolist() == [[1, 0, 0], [0, 0, 0], [1, 1, 1]]
    count = pres.sum(1)
    log_p = np.log(0.01 ** count / sum(0.01 ** n for n in range(4)))
    log_q = np.zeros(3)
    alive = np.ones(3)
    for t, s in enumerate(steps):
        out, enc = outputs['predict'][t].numpy(), outputs['encode'][t].numpy()
        q_pres = 1 / (1 + np.exp(-out[:, 0])) * alive
        log_q += np.log(np.where(pres[:, t] > 0, q_pres, 1 - q_pres))
        where, what = s.state.z_where.numpy(), s.state.z_what.numpy()
        softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
        np.testing.assert_allclose(where, out[:, 1:4] + [3, 0, 0] + softplus(out[:, 4:7])
                                   * [0.2, 1, 1] * eps[:, t, :3], rtol=1e-5, atol=1e-6)
        on = pres[:, t]
        log_p += on * (numpy_normal(where, [3, 0, 0], [0.2, 1, 1])
                       + numpy_normal(what, 0, 1))
        log_q += on * (numpy_normal(where, out[:, 1:4] + [3, 0, 0],
                                    softplus(out[:, 4:7]) * [0.2, 1, 1])
                       + numpy_normal(what, enc[:, :z], softplus(enc[:, z:])))
        alive = pres[:, t]
    canvas = terms.canvas.numpy().reshape(3, -1)
    np.testing.assert_array_equal(canvas[1], 0.0)   # no object: a black canvas
    log_p += numpy_normal(images.numpy().reshape(3, -1), canvas, 0.3)
    np.testing.assert_allclose(terms.log_p, log_p, rtol=1e-5)
    np.testing.assert_allclose(terms.log_q, log_q, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('estimator, background', [
    ('nvil', False), ('vimco', False), ('summed', False), ('relaxed', False), ('nvil', True)])
def test_every_estimators_xla_compiled_loss_and_gradients_equal_the_plain_ones(estimator,
                                                                               background):
    """Real runs train with XLA, the tests above without: the two must agree."""
    config = TINY.replace(estimator=estimator, vimco_samples=3, air_background=background,
                          background_size=4)
    compiled, plain = Air(config, seed=6), Air(config, seed=6, jit_compile=False)
    images = scenes(2, config, seed=9)
    noise = compiled.step_noise(2, 700)
    loss_x, grads_x = compiled.loss_and_gradients(images, noise)
    loss_p, grads_p = plain.loss_and_gradients_graph(images, noise)
    np.testing.assert_allclose(loss_x, loss_p, rtol=1e-5)
    assert len(grads_x) == len(plain.model_variables)
    for gx, gp in zip(grads_x, grads_p, strict=True):
        scale = max(float(tf.norm(gp)), 1e-3)
        assert float(tf.norm(gx - gp)) <= 1e-4 * scale, (estimator, float(tf.norm(gp)))
    assert any(float(tf.norm(g)) > 0 for g in grads_p)
