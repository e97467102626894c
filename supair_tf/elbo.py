"""The ELBO of SuPAIR with the object count summed out exactly (paper eq. 9).

No score-function estimator: for every n = 0..N_max the joint log p(x, z | N = n)
is formed from per-step terms, and the expectation over q(N) is a weighted sum.
"""

import tensorflow as tf

# Keeps log q(n) finite where q(n) underflows to zero, as the reference code does. The
# same number as rat_spn's TINY, kept apart on purpose: rat_spn imports nothing of ours.
LOG_EPS = 1e-37


def count_posterior(z_pres):
    """q(N = n) for n = 0..steps, ``[b, steps + 1]`` (paper eq. 1).

    q(n) = prod_{i<n} z_pres_i * (1 - z_pres_n) for n < steps, q(steps) = prod z_pres.
    """
    ones = tf.ones_like(z_pres[:, :1])
    all_present = tf.math.cumprod(tf.concat([ones, z_pres], 1), axis=1)     # [b, steps+1]
    next_absent = tf.concat([1.0 - z_pres, ones], 1)
    return all_present * next_absent


def count_log_prior(steps, decay):
    """log p(N = n) = log(decay) - decay * n, not renormalised (as the reference)."""
    n = tf.range(steps + 1, dtype=tf.float32)
    return tf.math.log(decay) - decay * n


def log_joint_by_count(object_terms, bg_log_lik, count_prior):
    """log p(x, z | N = n) for n = 0..steps, ``[b, steps + 1]``: the first n objects'
    terms, the background with n objects cut out, and the count prior."""
    zeros = tf.zeros_like(object_terms[:, :1])
    objects_up_to_n = tf.math.cumsum(tf.concat([zeros, object_terms], 1), axis=1)
    return objects_up_to_n + bg_log_lik + count_prior


def enumerated_elbo(z_pres, object_terms, bg_log_lik, log_q_where, count_prior):
    """Per-image ELBO ``[b]``.

    Args:
      z_pres: ``[b, steps]`` presence probabilities.
      object_terms: ``[b, steps]`` object log-likelihood (area-scaled, eq. 7) plus the
        overlap penalty of each step; object i counts when n > i.
      bg_log_lik: ``[b, steps + 1]`` background log-likelihood with n objects cut out.
      log_q_where: ``[b]`` log q(z_where) summed over all steps.
      count_prior: ``[steps + 1]`` log p(N = n).
    """
    log_joint = log_joint_by_count(object_terms, bg_log_lik, count_prior)
    q_n = count_posterior(z_pres)
    log_q = tf.math.log(q_n + LOG_EPS) + log_q_where[:, None]
    return tf.reduce_sum(q_n * (log_joint - log_q), axis=1)
