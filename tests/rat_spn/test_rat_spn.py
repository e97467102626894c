import numpy as np
import pytest
import tensorflow as tf

from rat_spn import RatSpn, RegionGraph
from rat_spn.reference import plain_log_density


def make_spn(num_items, splits, depth, num_gauss, num_sums, var_range, seed=0):
    graph = RegionGraph.random(num_items, splits, depth, seed=seed)
    spn = RatSpn(graph, num_gauss=num_gauss, num_sums=num_sums, num_classes=1,
                 var_range=var_range)
    spn.build()
    return spn


def randomize(spn, seed=0, mean_range=(-0.5, 1.5), logit_scale=2.0):
    """Parameters far from the initialisation, so that every part of the network matters."""
    rng = np.random.default_rng(seed)
    spn.means.assign(rng.uniform(*mean_range, spn.means.shape).astype(np.float32))
    spn.var_params.assign(rng.normal(0, 2, spn.var_params.shape).astype(np.float32))
    for logits in spn.sum_logits:
        logits.assign(rng.normal(0, logit_scale, logits.shape).astype(np.float32))
    return spn


def object_spn():
    return make_spn(784, 6, 2, 20, 20, (0.12, 0.35))


def background_spn():
    return make_spn(2500, 3, 1, 6, 3, (0.002, 0.12))


def small_spn(num_items=3, seed=0):
    return randomize(make_spn(num_items, 2, 2, 2, 2, (0.1, 0.5), seed=seed), seed=seed)


def random_mask(rng, shape):
    """Hard zeros and ones mixed with soft values, as SuPAIR's visibility maps give."""
    mask = rng.uniform(0, 1, shape)
    mask[rng.uniform(size=shape) < 0.3] = 0.0
    mask[rng.uniform(size=shape) < 0.3] = 1.0
    return mask.astype(np.float32)


def grid_density(spn, axis, marginalized=None):
    points = np.stack(np.meshgrid(*[axis] * spn.num_items, indexing='ij'), -1)
    points = points.reshape(-1, spn.num_items).astype(np.float32)
    mask = None if marginalized is None else np.broadcast_to(marginalized, points.shape)
    return np.exp(spn(points, marginalized=mask).numpy()[:, 0].astype(np.float64))


def test_small_spn_integrates_to_one():
    spn = small_spn()
    axis = np.linspace(-3.5, 4.5, 101)
    density = grid_density(spn, axis).reshape([101] * 3)
    total = density
    for _ in range(3):
        total = np.trapezoid(total, axis, axis=0)
    assert total == pytest.approx(1.0, abs=1e-3)


def test_marginalising_an_item_equals_integrating_it_out():
    spn = small_spn(seed=1)
    axis = np.linspace(-3.5, 4.5, 801)
    rng = np.random.default_rng(0)
    for x01 in rng.uniform(-0.5, 1.5, (5, 2)):
        joint = np.stack([np.full_like(axis, x01[0]), np.full_like(axis, x01[1]), axis], 1)
        integral = np.trapezoid(np.exp(spn(joint.astype(np.float32)).numpy()[:, 0]), axis)
        point = np.array([[x01[0], x01[1], 123.0]], np.float32)  # x2's value must not matter
        marginal = np.exp(spn(point, marginalized=np.array([[0, 0, 1]], np.float32)).numpy())
        assert marginal[0, 0] == pytest.approx(integral, rel=1e-4)


@pytest.mark.parametrize('build', [object_spn, background_spn], ids=['object', 'background'])
def test_fast_evaluation_and_gradients_equal_plain_per_region_evaluation(build):
    spn = randomize(build(), seed=2, mean_range=(0.0, 1.0))
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (6, spn.num_items)).astype(np.float32)
    mask = random_mask(rng, x.shape)
    with tf.GradientTape(persistent=True) as tape:
        fast = spn(x, marginalized=mask)
        plain = plain_log_density(spn, x, mask)
        fast_sum, plain_sum = tf.reduce_sum(fast), tf.reduce_sum(plain)
    np.testing.assert_allclose(fast.numpy(), plain.numpy(), rtol=1e-4)
    for variable in spn.trainable_variables:
        got = tf.convert_to_tensor(tape.gradient(fast_sum, variable)).numpy()
        want = tf.convert_to_tensor(tape.gradient(plain_sum, variable)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_fully_marginalised_input_has_log_density_zero_and_finite_gradients():
    spn = randomize(object_spn(), seed=4)
    x = np.random.default_rng(0).uniform(0, 1, (3, 784)).astype(np.float32)
    with tf.GradientTape() as tape:
        log_p = spn(x, marginalized=np.ones_like(x))
    np.testing.assert_allclose(log_p.numpy(), 0.0, atol=1e-4)
    # The total mass is 1 whatever the parameters: every gradient exists and is zero.
    for grad in tape.gradient(log_p, spn.trainable_variables):
        assert grad is not None
        np.testing.assert_allclose(tf.convert_to_tensor(grad).numpy(), 0.0, atol=1e-4)


@pytest.mark.parametrize('offset', [7.0, 1000.0])
def test_inputs_far_from_every_mean_stay_finite_and_exact(offset):
    spn = randomize(object_spn(), seed=5, mean_range=(0.0, 1.0))
    rng = np.random.default_rng(1)
    x = (offset + rng.uniform(0, 0.1, (3, 784))).astype(np.float32)
    mask = random_mask(rng, x.shape)
    with tf.GradientTape() as tape:
        log_p = spn(x, marginalized=mask)
    grads = tape.gradient(log_p, spn.trainable_variables)
    assert np.all(np.isfinite(log_p.numpy()))
    assert all(np.all(np.isfinite(tf.convert_to_tensor(g).numpy())) for g in grads)
    np.testing.assert_allclose(log_p.numpy(), plain_log_density(spn, x, mask).numpy(),
                               rtol=1e-4)
    if offset == 7.0:  # the regime of log-densities around -1e5
        assert -3e5 < log_p.numpy().max() < -3e4


def test_mpe_of_a_fully_observed_input_returns_the_input():
    spn = randomize(object_spn(), seed=6)
    x = np.random.default_rng(2).uniform(0, 1, (4, 784)).astype(np.float32)
    np.testing.assert_array_equal(spn.mpe_reconstruct(x, np.zeros_like(x)), x)


def test_mpe_fills_marginalised_items_with_means_of_leaves_that_hold_them():
    spn = randomize(object_spn(), seed=7)
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (4, 784)).astype(np.float32)
    mask = (rng.uniform(size=x.shape) < 0.5).astype(np.float32)
    y = spn.mpe_reconstruct(x, mask)
    mean = spn.leaf_parameters()[0].numpy()
    candidates = {}
    for r, items in enumerate(spn.leaf_items):
        for s, item in enumerate(items[items < 784]):
            candidates.setdefault(int(item), []).extend(mean[r, s])
    for b, d in zip(*np.nonzero(mask), strict=True):
        assert np.min(np.abs(np.array(candidates[d]) - y[b, d])) < 1e-6
    np.testing.assert_array_equal(y[mask == 0], x[mask == 0])


def test_mpe_follows_a_dominant_component():
    spn = make_spn(6, 2, 2, 2, 2, (0.1, 0.5))
    means = np.random.default_rng(4).uniform(-1, 1, spn.means.shape).astype(np.float32)
    spn.means.assign(means)
    # Every sum puts (almost) all weight on product 0: the leaves' Gaussian 0 everywhere.
    for logits in spn.sum_logits:
        values = np.full(logits.shape, -30.0, np.float32)
        values[0] = 30.0
        logits.assign(values)
    y = spn.mpe_reconstruct(np.zeros((1, 6), np.float32), np.ones((1, 6), np.float32))
    graph = spn.region_graph
    leaf_row = {leaf: r for r, leaf in enumerate(graph.layers()[0])}
    mean = spn.leaf_parameters()[0].numpy()
    expected = np.zeros(6)
    stack = [graph.root]  # product 0 of every sum: partition 0, first node of each child
    while stack:
        region = stack.pop()
        if region in leaf_row:
            expected[list(region)] = mean[leaf_row[region], :len(region), 0]
        else:
            stack.extend(graph.partitions_of(region)[0])
    np.testing.assert_allclose(y[0], expected, atol=1e-6)


def analytic_mean(spn):
    """E[x] by the recursion E_sum = sum_q w_q E_q, E_product = E_left + E_right."""
    layers = spn.region_graph.layers()
    mean = spn.leaf_parameters()[0].numpy()
    expect = {}
    for r, region in enumerate(layers[0]):
        full = np.zeros([spn.num_gauss, spn.num_items])
        full[:, list(region)] = mean[r, :len(region)].T
        expect[region] = full
    w = spn.width
    for k, regions in enumerate(layers[2::2]):
        weights = np.exp(spn.log_weights(k).numpy())
        for r, region in enumerate(regions):
            total = 0.0
            for p, (left, right) in enumerate(spn.region_graph.partitions_of(region)):
                a, b = expect[left], expect[right]
                block = weights[r, p * w * w:(p + 1) * w * w].reshape(w, w, -1)
                block = block[:len(a), :len(b)]
                total = (total + np.einsum('ijs,id->sd', block, a)
                         + np.einsum('ijs,jd->sd', block, b))
            expect[region] = total
    return expect[spn.region_graph.root][0]


def test_samples_match_the_analytic_mean():
    spn = small_spn(num_items=6, seed=8)
    samples = spn.sample(20000, seed=0)
    assert samples.shape == (20000, 6)
    # Standard error of each mean is below 1.5 / sqrt(20000) ~ 0.011; allow 4 of them.
    np.testing.assert_allclose(samples.mean(0), analytic_mean(spn), atol=0.045)


def test_config_round_trip_gives_the_same_layer():
    spn = randomize(background_spn(), seed=9)
    clone = RatSpn.from_config(spn.get_config())
    clone.build()
    clone.set_weights(spn.get_weights())
    x = np.random.default_rng(5).uniform(0, 1, (2, 2500)).astype(np.float32)
    np.testing.assert_allclose(clone(x).numpy(), spn(x).numpy(), rtol=1e-6)
    assert clone.count_params() == spn.count_params() == 90108


def test_runs_in_tf_function_with_unknown_batch_size():
    spn = randomize(object_spn(), seed=10)
    spec = tf.TensorSpec([None, 784], tf.float32)
    compiled = tf.function(lambda x, m: spn(x, marginalized=m), input_signature=[spec, spec])
    rng = np.random.default_rng(6)
    for batch in (3, 5):
        x = rng.uniform(0, 1, (batch, 784)).astype(np.float32)
        m = random_mask(rng, x.shape)
        np.testing.assert_allclose(compiled(x, m).numpy(), spn(x, marginalized=m).numpy(),
                                   rtol=1e-5)


def test_paper_parameter_counts():
    assert object_spn().count_params() == 286560
    assert background_spn().count_params() == 90108


@pytest.mark.parametrize('x, mask, message', [
    (np.zeros((2, 100)), None, r'inputs of shape \[batch, 784\]'),
    (np.full((2, 784), np.nan), None, r'\[batch, 784\] contain NaN'),
    (np.zeros((2, 784)), np.zeros((2, 100)), r'mask of shape \[batch, 784\]'),
    (np.zeros((2, 784)), np.zeros((3, 784)), r'mask of shape \[batch, 784\]'),
])
def test_bad_input_names_the_expected_shape(x, mask, message):
    with pytest.raises(ValueError, match=message):
        object_spn()(x.astype(np.float32), marginalized=mask)


@pytest.mark.parametrize('structure', ['random', 'poon_domingos'])
def test_the_compiled_mpe_pass_makes_the_eager_passs_choices(structure):
    graph = (RegionGraph.random(24, 3, 2, seed=3) if structure == 'random'
             else RegionGraph.poon_domingos(4, 6, step=2))
    spn = RatSpn(graph, num_gauss=4, num_sums=3)
    spn.build()
    randomize(spn, seed=5)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, 24)).astype(np.float32)
    mask = (rng.uniform(size=(16, 24)) < 0.5).astype(np.float32)
    compiled = tf.function(spn.mpe_graph)
    np.testing.assert_allclose(compiled(x, mask), spn.mpe_reconstruct(x, mask), atol=1e-6)
