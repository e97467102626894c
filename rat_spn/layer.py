"""RatSpn: a RAT-SPN with Gaussian leaves as one Keras layer.

The network is a short stack of levels (rat_spn.levels), each computing all of its
regions in one tensor op: Gaussian leaves as sufficient statistics times natural
parameters, then levels of sums over products by the log-sum-exp-through-einsum trick
of Einsum Networks (Peharz et al. 2020). The layer owns the parameters and runs the
levels bottom-up (log-densities, exact marginals) or top-down (MPE, sampling).

Region outputs of all levels live in one tensor ``[regions, batch, K]`` (K the
widest vector), padded with a large negative log-value where a region has fewer
nodes, so that any region graph (random or Poon-Domingos) runs the same way.
"""

import keras
import numpy as np
import tensorflow as tf

from rat_spn.levels import NEG, TINY, LeafLevel, SumLevel
from rat_spn.region_graph import RegionGraph

__all__ = ['NEG', 'TINY', 'RatSpn']


class RatSpn(keras.layers.Layer):
    """A RAT-SPN over ``num_items`` real items with factorised Gaussian leaves.

    ``call(x, marginalized=m)`` maps ``x, m: [batch, num_items]`` to the log-density
    ``[batch, num_classes]`` of the items with ``m = 0``; an item with ``m = 1`` is
    integrated out exactly, in-between values scale its leaf log-density by ``1 - m``.
    """

    def __init__(self, region_graph, num_gauss=20, num_sums=20, num_classes=1,
                 var_range=(0.12, 0.35), **kwargs):
        super().__init__(**kwargs)
        if isinstance(region_graph, dict):
            region_graph = RegionGraph.from_config(region_graph)
        self.region_graph = region_graph
        self.num_gauss, self.num_sums, self.num_classes = num_gauss, num_sums, num_classes
        self.var_range = tuple(float(v) for v in var_range)
        if not 0 < self.var_range[0] <= self.var_range[1]:
            raise ValueError(f'var_range must satisfy 0 < min <= max, got {var_range}')
        self.num_items = region_graph.num_items
        self._build_tables(region_graph.layers())

    def _build_tables(self, layers):
        """The levels and the row layout of the values tensor ``[regions, batch, W]``:
        the leaf regions first, then each level of sum regions bottom-up (the root
        last), the last axis padded with NEG up to W = the widest region (num_gauss
        leaves, num_sums inner nodes, num_classes at the root)."""
        leaves, region_layers = layers[0], layers[2::2]
        if not region_layers:
            raise ValueError('the region graph has no partition: split it before building an SPN')
        order = leaves + [r for layer in region_layers for r in layer]
        index = {region: k for k, region in enumerate(order)}
        outputs = [self.num_sums] * (len(region_layers) - 1) + [self.num_classes]
        sizes = [self.num_gauss] * len(leaves)
        for layer, size in zip(region_layers, outputs, strict=True):
            sizes += [size] * len(layer)
        self.width = max(sizes)
        self.num_regions = len(order)
        self.root_index = index[self.region_graph.root]
        self.leaves = LeafLevel(leaves, self.num_items, self.num_gauss, self.var_range)
        self.levels = [SumLevel(layer, self.region_graph.partitions_of, index, sizes,
                                self.width, size)
                       for layer, size in zip(region_layers, outputs, strict=True)]

    @property
    def leaf_items(self):
        """Items of each leaf region ``[leaf regions, longest]``, padded with num_items."""
        return self.leaves.items

    @property
    def leaf_entry(self):
        """Rows of ``means`` / ``var_params`` for the items of each leaf region."""
        return self.leaves.entry

    def build(self, input_shape=None):
        """Creates the leaf means, variance parameters and sum-weight logits."""
        leaf_shape = (self.leaves.num_entries, self.num_gauss)
        init = keras.initializers.TruncatedNormal
        self.means = self.add_weight(name='means', shape=leaf_shape,
                                     initializer=init(stddev=0.1))
        self.var_params = self.add_weight(name='var_params', shape=leaf_shape,
                                          initializer=init(stddev=0.1))
        self.sum_logits = [
            self.add_weight(name=f'sum_logits_{k}', shape=(level.num_weights, level.num_out),
                            initializer=init(stddev=0.5))
            for k, level in enumerate(self.levels)]
        self.built = True

    # ---- parameters in region layout -------------------------------------------------
    def leaf_parameters(self):
        """Means and variances ``[leaf regions, items per region, num_gauss]`` (padded)."""
        return self.leaves.parameters(self.means, self.var_params)

    def log_weights(self, k):
        """Log sum weights of level k, ``[regions, partitions * width^2, num_out]``."""
        return self.levels[k].log_weights(self.sum_logits[k])

    # ---- evaluation --------------------------------------------------------------------
    def _check_inputs(self, x, marginalized):
        x = tf.convert_to_tensor(x, tf.float32)
        expected = f'[batch, {self.num_items}]'
        if x.shape.rank != 2 or (x.shape[1] is not None and x.shape[1] != self.num_items):
            raise ValueError(f'RatSpn expects inputs of shape {expected}, got {x.shape}')
        if marginalized is None:
            marginalized = tf.zeros_like(x)
        marginalized = tf.convert_to_tensor(marginalized, tf.float32)
        if marginalized.shape.rank != 2 or (marginalized.shape[1] is not None and
                                            marginalized.shape[1] != self.num_items):
            raise ValueError(f'RatSpn expects a marginalisation mask of shape {expected} '
                             f'like the inputs, got {marginalized.shape}')
        if tf.executing_eagerly():
            if x.shape[0] != marginalized.shape[0]:
                raise ValueError(f'RatSpn expects a mask of shape {expected} with the batch of '
                                 f'the inputs ({x.shape[0]}), got {marginalized.shape}')
            if not np.all(np.isfinite(x.numpy())):
                raise ValueError(f'RatSpn inputs of shape {expected} contain NaN or inf')
        return x, marginalized

    def _pad(self, values):
        missing = self.width - values.shape[-1]
        return tf.pad(values, [[0, 0], [0, 0], [0, missing]], constant_values=NEG)

    def _forward(self, x, marginalized):
        """All region values ``[regions, batch, width]`` in the order of the index tables."""
        values = self._pad(self.leaves.forward(x, marginalized, self.means, self.var_params))
        for level, logits in zip(self.levels, self.sum_logits, strict=True):
            values = tf.concat([values, self._pad(level.forward(values, logits))], axis=0)
        return values

    def call(self, x, marginalized=None):
        """Log-density ``[batch, num_classes]``; items with ``marginalized = 1`` integrated out."""
        x, marginalized = self._check_inputs(x, marginalized)
        values = self._forward(x, marginalized)
        return values[self.root_index, :, :self.num_classes]

    def compute_output_shape(self, input_shape):
        """One log-density per class."""
        return (input_shape[0], self.num_classes)

    # ---- top-down passes (eager, numpy) -------------------------------------------------
    def mpe_reconstruct(self, x, marginalized=None, sample=False, seed=None):
        """Most probable explanation of the marginalised items (Vergari et al. 2018).

        A forward pass with the mask records, for every sum node, its child with the
        largest weighted value; descending from the root along these arg-maxes reaches
        one Gaussian per item, which emits its mean (or a sample if ``sample``).
        Items with ``m = 0`` keep their values; soft masks blend ``(1-m) x + m * y``.
        """
        x, marginalized = self._check_inputs(x, marginalized)
        values = self._forward(x, marginalized)
        choosers = [level.most_probable(values, logits)
                    for level, logits in zip(self.levels, self.sum_logits, strict=True)]
        y = self._descend(choosers, int(x.shape[0]), sample, np.random.default_rng(seed))
        m = np.clip(marginalized.numpy(), 0.0, 1.0)
        return (1.0 - m) * x.numpy() + m * y

    def mpe_graph(self, x, marginalized):
        """mpe_reconstruct (leaf means) as graph operations, for compiled functions and
        SavedModels: the same choices, so the same values."""
        values = self._forward(x, marginalized)
        node = tf.one_hot(tf.fill([tf.shape(x)[0]], self.root_index), self.num_regions,
                          on_value=0, off_value=-1, dtype=tf.int32)
        for level, logits in reversed(list(zip(self.levels, self.sum_logits, strict=True))):
            node = level.descend_graph(node, level.best_products(values, logits))
        y = self.leaves.emit_graph(node[:, :len(self.leaf_items)], self.means,
                                   self.var_params)
        m = tf.clip_by_value(marginalized, 0.0, 1.0)
        return (1.0 - m) * x + m * y

    def sample(self, n, seed=None, leaf_means=False):
        """``n`` ancestral samples ``[n, num_items]`` of the first class's distribution; with
        ``leaf_means`` the sum nodes are sampled and the chosen Gaussians emit their means."""
        rng = np.random.default_rng(seed)
        choosers = [level.sampled(logits, rng)
                    for level, logits in zip(self.levels, self.sum_logits, strict=True)]
        return self._descend(choosers, n, not leaf_means, rng)

    def _descend(self, choosers, batch_size, sample, rng):
        """From the root (node 0 of the first class) through every level's chooser down
        to the leaves, which emit for the items of the regions reached."""
        node = np.full([batch_size, self.num_regions], -1)
        node[:, self.root_index] = 0
        for level, choose in reversed(list(zip(self.levels, choosers, strict=True))):
            level.descend(node, choose)
        return self.leaves.emit(node[:, :len(self.leaf_items)], self.means, self.var_params,
                                sample, rng)

    def get_config(self):
        """Everything needed to rebuild the layer, its region graph included."""
        config = super().get_config()
        config.update(region_graph=self.region_graph.get_config(), num_gauss=self.num_gauss,
                      num_sums=self.num_sums, num_classes=self.num_classes,
                      var_range=list(self.var_range))
        return config
