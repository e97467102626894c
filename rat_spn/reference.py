"""A plain RAT-SPN evaluation: one op per region, in log space, as written in the paper
(Peharz et al. 2018, section 3).

It reads the region graph and the layer's parameters in region layout, and shares
no evaluation code with the layer: the tests use it as an oracle (in float64), the
benchmarks as the baseline the fast layer is measured against (in float32).
"""

import math

import tensorflow as tf

from rat_spn.layer import RatSpn


def plain_log_density(spn, x, marginalized, dtype=tf.float64):
    """log p(x with marginalised items integrated out), ``[batch, num_classes]``."""
    x = tf.cast(x, dtype)
    keep = 1.0 - tf.clip_by_value(tf.cast(marginalized, dtype), 0.0, 1.0)
    layers = spn.region_graph.layers()
    mean, var = (tf.cast(t, dtype) for t in spn.leaf_parameters())
    value = {}
    for r, region in enumerate(layers[0]):
        items = list(region)
        xs = tf.gather(x, items, axis=1)[..., None]                     # [b, s, 1]
        mu, v = mean[r, :len(items)], var[r, :len(items)]               # [s, G]
        log_pdf = -0.5 * (xs - mu) ** 2 / v - 0.5 * tf.math.log(2 * math.pi * v)
        value[region] = tf.reduce_sum(log_pdf * tf.gather(keep, items, axis=1)[..., None], 1)
    width = spn.width
    for k, level_regions in enumerate(layers[2::2]):
        log_w = tf.cast(spn.log_weights(k), dtype)                      # [R, P*W*W, out]
        for r, region in enumerate(level_regions):
            products, weights = [], []
            for p, (left, right) in enumerate(spn.region_graph.partitions_of(region)):
                a, b = value[left], value[right]
                products.append(tf.reshape(a[:, :, None] + b[:, None, :], [tf.shape(a)[0], -1]))
                block = tf.reshape(log_w[r, p * width ** 2:(p + 1) * width ** 2],
                                   [width, width, -1])[:a.shape[1], :b.shape[1]]
                weights.append(tf.reshape(block, [a.shape[1] * b.shape[1], -1]))
            products, weights = tf.concat(products, 1), tf.concat(weights, 0)
            value[region] = tf.reduce_logsumexp(products[:, :, None] + weights[None], axis=1)
    return value[spn.region_graph.root]


class PerRegionRatSpn(RatSpn):
    """The same RAT-SPN (structure, parameters, initialisation) evaluated region by region
    with ``plain_log_density`` in ``precision``, returning float32 like RatSpn: a model
    built with it instead of RatSpn computes what the fast layer should, the slow way."""

    def __init__(self, *args, precision=tf.float64, **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def call(self, x, marginalized=None):
        """``log p`` ``[batch, num_classes]``, as RatSpn.call."""
        x, marginalized = self._check_inputs(x, marginalized)
        return tf.cast(plain_log_density(self, x, marginalized, self.precision), tf.float32)
