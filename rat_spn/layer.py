"""RatSpn: a RAT-SPN with Gaussian leaves as one Keras layer.

Every level of the network is one tensor operation over all of its regions:
- leaves: sufficient statistics ``(w x^2, w x, w)`` of every item (``w = 1 - m``
  masks marginalised items) contracted with the Gaussians' natural parameters;
- products and sums: the log-sum-exp-through-einsum trick of Einsum Networks
  (Peharz et al. 2020, eq. 4): shift by the children's maxima, multiply in linear
  space, contract with the normalised sum weights, take the log, add the shifts.

Region outputs of all levels live in one tensor ``[regions, batch, K]`` (K the
widest vector), padded with a large negative log-value where a region has fewer
nodes, so that any region graph (random or Poon-Domingos) runs the same way.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from rat_spn.region_graph import RegionGraph

# Stands for log(0) without infinities: exp() of it is 0 and sums of it stay finite.
NEG = -1e30
# Smallest value passed to log(): keeps log-likelihoods finite if a sum underflows.
TINY = 1e-37


class _SumLevel:
    """Static index tables of one level of sum regions (numpy, built once).

    Rows are the level's R regions, columns their P partitions (padded to the most any
    region has). ``left[r, p]`` and ``right[r, p]`` are the partition's two child regions
    as rows of the values tensor ``[regions, batch, W]`` (see RatSpn._build_tables);
    ``valid_partition[r, p]`` is False on padding. The products of a partition are the
    W x W pairs of a left node i and a right node j, numbered q = p * W * W + i * W + j;
    ``gather[r, q]`` says where the weight of product q sits in the flat parameter (or
    ``num_weights``, the padding slot, for a pair that involves a padded node).
    """

    def __init__(self, regions, partitions_of, region_index, sizes, width, num_out):
        self.regions = [region_index[r] for r in regions]
        num_parts = max(len(partitions_of(r)) for r in regions)
        self.left = np.zeros([len(regions), num_parts], np.int32)
        self.right = np.zeros([len(regions), num_parts], np.int32)
        self.valid_partition = np.zeros([len(regions), num_parts], bool)
        valid_product = np.zeros([len(regions), num_parts, width, width], bool)
        for r, region in enumerate(regions):
            for p, partition in enumerate(partitions_of(region)):
                if len(partition) != 2:
                    raise ValueError('RatSpn needs binary partitions; the region graph has a '
                                     f'{len(partition)}-way one')
                left, right = (region_index[c] for c in partition)
                self.left[r, p], self.right[r, p] = left, right
                self.valid_partition[r, p] = True
                valid_product[r, p, :sizes[left], :sizes[right]] = True
        self.num_out = num_out
        valid_product = valid_product.reshape(len(regions), -1)
        # Sum weight logits are stored flat (only real products count as parameters);
        # `gather` expands them to [regions, products, num_out] with NEG padding.
        self.num_weights = int(valid_product.sum())
        position = np.cumsum(valid_product.ravel()).reshape(valid_product.shape) - 1
        self.gather = np.where(valid_product, position, self.num_weights).astype(np.int32)


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
        """Index tables for the region-major layout of every pass.

        All region values live in one tensor ``[regions, batch, W]`` whose rows are the
        leaf regions first, then each level of sum regions bottom-up (the root last), and
        whose last axis is padded with NEG up to W = the widest region (num_gauss leaves,
        num_sums inner nodes, num_classes at the root). Leaf region r holds the items
        ``leaf_items[r]`` (padded with the dummy item ``num_items``), whose parameters are
        rows ``leaf_entry[r]`` of ``means`` / ``var_params``; ``item_region_entry[d, r]``
        is the same map seen from item d (``num_leaf_entries`` where d is not in r).
        """
        leaves = layers[0]
        region_layers = layers[2::2]
        order = leaves + [r for layer in region_layers for r in layer]
        index = {region: k for k, region in enumerate(order)}
        sizes = [self.num_gauss] * len(leaves)
        for k, layer in enumerate(region_layers):
            top = k == len(region_layers) - 1
            sizes += [self.num_classes if top else self.num_sums] * len(layer)
        self.width = max(sizes)
        self.num_regions = len(order)
        self.root_index = index[self.region_graph.root]
        # Leaves: items of each region, padded with the dummy item `num_items`.
        longest = max(len(r) for r in leaves)
        self.leaf_items = np.full([len(leaves), longest], self.num_items, np.int32)
        self.leaf_entry = np.zeros([len(leaves), longest], np.int32)
        count = 0
        for r, region in enumerate(leaves):
            self.leaf_items[r, :len(region)] = region
            self.leaf_entry[r, :len(region)] = np.arange(count, count + len(region))
            self.leaf_entry[r, len(region):] = sum(len(x) for x in leaves)
            count += len(region)
        self.num_leaf_entries = count
        # The same parameters seen from the items: entry of (item, leaf region), or padding.
        self.item_region_entry = np.full([self.num_items, len(leaves)], count, np.int32)
        for r, region in enumerate(leaves):
            self.item_region_entry[list(region), r] = self.leaf_entry[r, :len(region)]
        self.item_in_region = (self.item_region_entry < count).astype(np.float32)
        self.levels = [
            _SumLevel(layer, self.region_graph.partitions_of, index, sizes, self.width,
                      self.num_classes if k == len(region_layers) - 1 else self.num_sums)
            for k, layer in enumerate(region_layers)]
        if not self.levels:
            raise ValueError('the region graph has no partition: split it before building an SPN')

    def build(self, input_shape=None):
        """Creates the leaf means, variance parameters and sum-weight logits."""
        leaf_shape = (self.num_leaf_entries, self.num_gauss)
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
        pad = tf.zeros([1, self.num_gauss])
        mean = tf.gather(tf.concat([self.means, pad], 0), self.leaf_entry)
        lo, hi = self.var_range
        var = lo + (hi - lo) * tf.sigmoid(tf.gather(tf.concat([self.var_params, pad], 0),
                                                    self.leaf_entry))
        return mean, var

    def log_weights(self, k):
        """Log sum weights of level k, ``[regions, partitions * width^2, num_out]``."""
        level = self.levels[k]
        pad = tf.fill([1, level.num_out], NEG)
        logits = tf.gather(tf.concat([self.sum_logits[k], pad], 0), level.gather)
        return tf.nn.log_softmax(logits, axis=1)

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

    def _leaf_level(self, x, marginalized):
        """Log-densities of all leaf regions, ``[leaf regions, batch, num_gauss]``.

        Three matmuls, one per sufficient statistic: ``w x^2``, ``w x`` and ``w`` of
        every item ``[b, D]`` against the matching natural parameters ``[D, R * G]``,
        zero where an item is not in a region. (One matmul over the concatenated
        statistics costs the same arithmetic but copies them, and its gradient again.)
        """
        keep = 1.0 - tf.clip_by_value(marginalized, 0.0, 1.0)
        square, linear, constant = self._natural_parameters()                 # [D, R*G] each
        kept_x = keep * x
        log_p = (tf.matmul(kept_x * x, square) + tf.matmul(kept_x, linear)
                 + tf.matmul(keep, constant))                                 # [b, R*G]
        log_p = tf.reshape(log_p, [-1, len(self.leaf_items), self.num_gauss])
        return tf.transpose(log_p, [1, 0, 2])

    def _natural_parameters(self):
        """Gaussian natural parameters laid out item by region, three ``[D, R * G]``."""
        pad = tf.zeros([1, self.num_gauss])
        mean = tf.gather(tf.concat([self.means, pad], 0), self.item_region_entry)  # [D, R, G]
        lo, hi = self.var_range
        var = lo + (hi - lo) * tf.sigmoid(tf.gather(tf.concat([self.var_params, pad], 0),
                                                    self.item_region_entry))
        member = self.item_in_region[..., None]
        precision = member / var
        shape = [self.num_items, -1]
        return (tf.reshape(-0.5 * precision, shape), tf.reshape(mean * precision, shape),
                tf.reshape(-0.5 * mean * mean * precision
                           - 0.5 * member * tf.math.log(2 * math.pi * var), shape))

    def _children(self, values, level):
        """Left and right child vectors of every partition, ``[R, P, batch, width]``."""
        return tf.gather(values, level.left), tf.gather(values, level.right)

    def _sum_level(self, values, k):
        """Sum nodes of level k over the products of their partitions, ``[R, batch, out]``.

        Region-major layout: the contraction over (partition, product) is a batched
        matmul with the regions and partitions as its batch, so no transposes.
        """
        level = self.levels[k]
        num_regions, num_parts = level.left.shape
        left, right = self._children(values, level)                            # [R, P, b, W]
        left_max = tf.stop_gradient(tf.reduce_max(left, -1))                   # [R, P, b]
        right_max = tf.stop_gradient(tf.reduce_max(right, -1))
        shift = tf.where(level.valid_partition[..., None], left_max + right_max, NEG)
        top = tf.reduce_max(shift, 1)                                          # [R, b]
        scale = tf.exp(shift - top[:, None])
        left = tf.exp(left - left_max[..., None]) * scale[..., None]
        right = tf.exp(right - right_max[..., None])
        products = left[..., :, None] * right[..., None, :]                    # [R, P, b, W, W]
        products = tf.reshape(products, [num_regions * num_parts, -1, self.width ** 2])
        weights = tf.reshape(tf.exp(self.log_weights(k)),
                             [num_regions * num_parts, self.width ** 2, level.num_out])
        sums = tf.reduce_sum(tf.reshape(tf.matmul(products, weights),
                                        [num_regions, num_parts, -1, level.num_out]), 1)
        return tf.math.log(tf.maximum(sums, TINY)) + top[..., None]

    def _pad(self, values):
        missing = self.width - values.shape[-1]
        return tf.pad(values, [[0, 0], [0, 0], [0, missing]], constant_values=NEG)

    def _forward(self, x, marginalized):
        """All region values ``[regions, batch, width]`` in the order of the index tables."""
        values = self._pad(self._leaf_level(x, marginalized))
        for k in range(len(self.levels)):
            values = tf.concat([values, self._pad(self._sum_level(values, k))], axis=0)
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
        choices = []
        for k, level in enumerate(self.levels):
            left, right = self._children(values, level)                        # [R, P, b, W]
            left = tf.where(level.valid_partition[..., None, None], left, NEG)
            logp = left[..., :, None] + right[..., None, :]                    # [R, P, b, W, W]
            logp = tf.reshape(tf.transpose(logp, [2, 0, 1, 3, 4]),
                              [tf.shape(x)[0], len(level.regions), -1])          # [b, R, Q]
            child = logp[..., None] + self.log_weights(k)[None]                # [b, R, Q, out]
            choices.append(tf.argmax(child, axis=2, output_type=tf.int32).numpy())

        def choose(k, batch, region, node):
            return choices[k][batch, region, node]

        rng = np.random.default_rng(seed)
        y = self._descend(choose, int(x.shape[0]), sample, rng)
        m = np.clip(marginalized.numpy(), 0.0, 1.0)
        return (1.0 - m) * x.numpy() + m * y

    def sample(self, n, seed=None, leaf_means=False):
        """``n`` ancestral samples ``[n, num_items]`` of the first class's distribution; with
        ``leaf_means`` the sum nodes are sampled and the chosen Gaussians emit their means."""
        rng = np.random.default_rng(seed)
        probs = [np.exp(self.log_weights(k).numpy()) for k in range(len(self.levels))]

        def choose(k, batch, region, node):
            p = probs[k][region, :, node]                                       # [n, Q]
            cdf = np.cumsum(p, axis=1)
            u = rng.random(len(batch))[:, None] * cdf[:, -1:]
            return np.minimum((cdf < u).sum(axis=1), p.shape[1] - 1)

        return self._descend(choose, n, not leaf_means, rng)

    def _descend(self, choose, batch_size, sample, rng):
        """Walks from the root to the leaves; ``choose`` picks a product per sum node.

        ``node[b, r]`` is the node chosen in region r for scene b (-1: region not
        reached). A chosen product q splits as in _SumLevel: partition q // W^2, left
        node (q // W) % W, right node q % W. Leaf regions reached emit their Gaussian's
        mean or a sample for their items.
        """
        node = np.full([batch_size, self.num_regions], -1)
        node[:, self.root_index] = 0
        w = self.width
        for k in reversed(range(len(self.levels))):
            level = self.levels[k]
            batch, region = np.nonzero(node[:, level.regions] >= 0)
            q = choose(k, batch, region, node[batch, np.asarray(level.regions)[region]])
            part, i, j = q // (w * w), (q // w) % w, q % w
            node[batch, level.left[region, part]] = i
            node[batch, level.right[region, part]] = j
        mean, var = (t.numpy() for t in self.leaf_parameters())
        batch, region = np.nonzero(node[:, :len(self.leaf_items)] >= 0)
        gauss = node[batch, region]
        emitted = mean[region, :, gauss]                                        # [hits, S]
        if sample:
            emitted = emitted + np.sqrt(var[region, :, gauss]) * rng.standard_normal(
                emitted.shape)
        out = np.zeros([batch_size, self.num_items + 1], np.float32)
        out[batch[:, None], self.leaf_items[region]] = emitted
        return out[:, :self.num_items]

    def get_config(self):
        """Everything needed to rebuild the layer, its region graph included."""
        config = super().get_config()
        config.update(region_graph=self.region_graph.get_config(), num_gauss=self.num_gauss,
                      num_sums=self.num_sums, num_classes=self.num_classes,
                      var_range=list(self.var_range))
        return config
