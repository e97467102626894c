"""The log-densities AIR's ELBO and its estimators take (PyTorch's clamping where Pyro's AIR
relies on it), and the two the estimators add: a count chain's and the Binary Concrete's."""

import math

import numpy as np
import tensorflow as tf

FLOAT_EPS = float(np.finfo(np.float32).eps)  # PyTorch clamps Bernoulli probabilities by it
HALF_LOG_TWO_PI = 0.5 * float(np.log(2.0 * np.pi))


def bernoulli_log_prob(prob, value):
    """log Bernoulli(value; prob), with prob clamped to [eps, 1 - eps] as PyTorch does."""
    prob = tf.clip_by_value(prob, FLOAT_EPS, 1.0 - FLOAT_EPS)
    logits = tf.math.log(prob) - tf.math.log1p(-prob)
    return value * logits - tf.nn.softplus(logits)


def normal_log_prob(value, loc, scale):
    """log N(value; loc, scale), summed over the last axis."""
    z = (value - loc) / scale
    return tf.reduce_sum(-0.5 * z * z - tf.math.log(scale) - HALF_LOG_TWO_PI, axis=-1)


def count_log_probs(going):
    """``log P(N = n)`` ``[b, k + 1]``, n = 0 .. k, of a chain that goes on past step t with
    probability ``going[:, t]`` (``[b, k]``), clamped as bernoulli_log_prob clamps."""
    on, off = bernoulli_log_prob(going, 1.0), bernoulli_log_prob(going, 0.0)
    zero = tf.zeros_like(going[:, :1])
    return tf.concat([zero, tf.cumsum(on, 1)], 1) + tf.concat([off, zero], 1)


def concrete_log_density(y, logit, temperature):
    """log density of ``y = (logit + L) / temperature``, L ~ Logistic(0, 1): the Binary
    Concrete in logit space (Maddison et al. 2017, appendix C.3); sigmoid(y) is the relaxed
    Bernoulli sample, and P(y > 0) = sigmoid(logit)."""
    return (math.log(temperature) - temperature * y + logit
            - 2.0 * tf.nn.softplus(logit - temperature * y))


def leave_one_out_bounds(log_w):
    """For each sample k of ``log_w [K, b]``: log mean exp of the K values with ``log_w[k]``
    replaced by the mean of the other K - 1 (VIMCO's baseline for sample k), ``[K, b]``."""
    k = log_w.shape[0]
    others = (tf.reduce_sum(log_w, 0, keepdims=True) - log_w) / (k - 1)
    mask = tf.eye(k)[:, :, None]                                   # [k, K, 1]
    replaced = log_w[None] * (1.0 - mask) + others[:, None] * mask  # [k, K, b]
    return tf.reduce_logsumexp(replaced, 1) - math.log(k)
