import math

import numpy as np
import pytest

from supair_tf.elbo import count_log_prior, count_posterior, enumerated_elbo


def random_terms(rng, batch=5, steps=3):
    return (rng.uniform(0.01, 0.99, (batch, steps)).astype(np.float32),
            rng.normal(0, 50, (batch, steps)).astype(np.float32),
            rng.normal(0, 200, (batch, steps + 1)).astype(np.float32),
            rng.normal(0, 5, batch).astype(np.float32))


def brute_force_elbo(z_pres, object_terms, bg_ll, log_q_where):
    """Eq. 9 term by term: loop over n, explicit products of z_pres, float64."""
    steps = len(z_pres)
    elbo = 0.0
    for n in range(steps + 1):
        q_n = 1.0
        for i in range(n):
            q_n *= float(z_pres[i])
        if n < steps:
            q_n *= 1.0 - float(z_pres[n])
        log_joint = sum(float(object_terms[i]) for i in range(n)) + float(bg_ll[n]) \
            + math.log(0.7) - 0.7 * n
        elbo += q_n * (log_joint - math.log(q_n + 1e-37) - float(log_q_where))
    return elbo


def test_enumerated_elbo_equals_brute_force_sum():
    z_pres, objects, bg, lqw = random_terms(np.random.default_rng(0))
    got = enumerated_elbo(z_pres, objects, bg, lqw, count_log_prior(3, 0.7)).numpy()
    want = [brute_force_elbo(*args) for args in zip(z_pres, objects, bg, lqw, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-2)


def test_count_posterior_is_a_distribution_with_eq_1_entries():
    z_pres = np.array([[0.9, 0.5, 0.2], [0.0, 1.0, 1.0]], np.float32)
    q = count_posterior(z_pres).numpy()
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(q[0], [0.1, 0.45, 0.36, 0.09], rtol=1e-6)
    np.testing.assert_allclose(q[1], [1.0, 0.0, 0.0, 0.0])


def test_elbo_is_the_expectation_over_sequential_presence_draws():
    """Monte Carlo over AIR's generative reading of q(N): stop at the first absent step."""
    rng = np.random.default_rng(1)
    z_pres, objects, bg, lqw = (a[:1] for a in random_terms(rng, batch=1))
    q = count_posterior(z_pres).numpy()[0]
    draws = rng.uniform(size=(200000, 3)) < z_pres[0]
    n = np.where(draws.all(1), 3, np.argmin(draws, axis=1))
    log_joint = (np.concatenate([[0.0], np.cumsum(objects[0])])[n] + bg[0][n]
                 + math.log(0.7) - 0.7 * n)
    samples = log_joint - np.log(q[n]) - lqw[0]
    got = enumerated_elbo(z_pres, objects, bg, lqw, count_log_prior(3, 0.7)).numpy()[0]
    assert got == pytest.approx(samples.mean(), abs=4 * samples.std() / math.sqrt(len(samples)))
