"""The two kinds of level a RAT-SPN is stacked from, each with its bottom-up pass (log-
densities of all its regions in one tensor op) and its top-down pass (the choice a sum
node makes for MPE or sampling, the values a leaf emits).

A level holds static numpy index tables, built once from the region graph; the
parameters stay with the layer (rat_spn.layer.RatSpn) and are passed in, so that a
level is a pure function of its inputs. All region values of a network live in one
tensor ``[regions, batch, W]``: the leaf regions first, then each level of sum regions
bottom-up (the root last), the last axis padded with NEG up to the widest region W.
"""

import math

import numpy as np
import tensorflow as tf

# Stands for log(0) without infinities: exp() of it is 0 and sums of it stay finite.
NEG = -1e30
# Smallest value passed to log(): keeps log-likelihoods finite if a sum underflows.
TINY = 1e-37


class LeafLevel:
    """Factorised Gaussian leaves of every leaf region (Peharz et al. 2018, section 3).

    Leaf region r holds the items ``items[r]`` (padded with the dummy item ``num_items``),
    whose parameters are rows ``entry[r]`` of the flat ``means`` / ``var_params``
    ``[num_entries, num_gauss]``; ``item_entry[d, r]`` is the same map seen from item d
    (``num_entries`` where d is not in r). Variances are ``lo + (hi - lo) sigmoid(v)``.
    """

    def __init__(self, leaves, num_items, num_gauss, var_range):
        self.num_items, self.num_gauss, self.var_range = num_items, num_gauss, var_range
        longest = max(len(r) for r in leaves)
        self.items = np.full([len(leaves), longest], num_items, np.int32)
        self.entry = np.zeros([len(leaves), longest], np.int32)
        self.num_entries = sum(len(r) for r in leaves)
        count = 0
        for r, region in enumerate(leaves):
            self.items[r, :len(region)] = region
            self.entry[r] = self.num_entries
            self.entry[r, :len(region)] = np.arange(count, count + len(region))
            count += len(region)
        self.item_entry = np.full([num_items, len(leaves)], self.num_entries, np.int32)
        for r, region in enumerate(leaves):
            self.item_entry[list(region), r] = self.entry[r, :len(region)]
        self.item_in_region = (self.item_entry < self.num_entries).astype(np.float32)

    def parameters(self, means, var_params, index=None):
        """Means and variances at ``index`` into the flat rows (padding rows give mean 0,
        the middle variance); by default region layout ``[regions, items, num_gauss]``."""
        index = self.entry if index is None else index
        pad = tf.zeros([1, self.num_gauss])
        mean = tf.gather(tf.concat([means, pad], 0), index)
        lo, hi = self.var_range
        var = lo + (hi - lo) * tf.sigmoid(tf.gather(tf.concat([var_params, pad], 0), index))
        return mean, var

    def natural_parameters(self, means, var_params):
        """Gaussian natural parameters laid out item by region, three ``[D, R * G]``."""
        mean, var = self.parameters(means, var_params, self.item_entry)        # [D, R, G]
        member = self.item_in_region[..., None]
        precision = member / var
        shape = [self.num_items, -1]
        return (tf.reshape(-0.5 * precision, shape), tf.reshape(mean * precision, shape),
                tf.reshape(-0.5 * mean * mean * precision
                           - 0.5 * member * tf.math.log(2 * math.pi * var), shape))

    def forward(self, x, marginalized, means, var_params):
        """Log-densities of all leaf regions, ``[leaf regions, batch, num_gauss]``.

        Three matmuls, one per sufficient statistic: ``w x^2``, ``w x`` and ``w`` of every
        item ``[b, D]`` (``w = 1 - m`` masks marginalised items) against the matching
        natural parameters ``[D, R * G]``, zero where an item is not in a region. (One
        matmul over the concatenated statistics costs the same arithmetic but copies
        them, and its gradient again.)
        """
        keep = 1.0 - tf.clip_by_value(marginalized, 0.0, 1.0)
        square, linear, constant = self.natural_parameters(means, var_params)
        kept_x = keep * x
        log_p = (tf.matmul(kept_x * x, square) + tf.matmul(kept_x, linear)
                 + tf.matmul(keep, constant))                                 # [b, R*G]
        log_p = tf.reshape(log_p, [-1, len(self.items), self.num_gauss])
        return tf.transpose(log_p, [1, 0, 2])

    def emit_graph(self, node, means, var_params):
        """emit's means in the graph: items ``[batch, num_items]`` from ``node [b, leaf
        regions]`` (-1: not reached; each item is in exactly one reached region)."""
        mean, _ = self.parameters(means, var_params)                            # [L, S, G]
        reached = node >= 0
        gauss = tf.transpose(tf.maximum(node, 0))                               # [L, b]
        emitted = tf.gather(tf.transpose(mean, [0, 2, 1]), gauss, batch_dims=1)  # [L, b, S]
        emitted = tf.transpose(emitted, [1, 0, 2]) * tf.cast(reached, tf.float32)[..., None]
        b = tf.shape(node)[0]
        items = tf.broadcast_to(self.items[None], [b, *self.items.shape])       # [b, L, S]
        rows = tf.broadcast_to(tf.range(b)[:, None, None], tf.shape(items))
        out = tf.scatter_nd(tf.stack([rows, items], -1), emitted, [b, self.num_items + 1])
        return out[:, :self.num_items]

    def emit(self, node, means, var_params, sample, rng):
        """Top-down: items ``[batch, num_items]`` emitted by the Gaussian ``node[b, r]``
        chosen in each leaf region reached (-1: not reached), its mean or a sample."""
        mean, var = (t.numpy() for t in self.parameters(means, var_params))
        batch, region = np.nonzero(node >= 0)
        gauss = node[batch, region]
        emitted = mean[region, :, gauss]                                        # [hits, S]
        if sample:
            emitted = emitted + np.sqrt(var[region, :, gauss]) * rng.standard_normal(
                emitted.shape)
        out = np.zeros([node.shape[0], self.num_items + 1], np.float32)
        out[batch[:, None], self.items[region]] = emitted
        return out[:, :self.num_items]


class SumLevel:
    """One level of sum regions over the products of their partitions' children.

    Rows are the level's R regions (``regions``: their rows in the values tensor),
    columns their P partitions (padded to the most any region has). ``left[r, p]`` and
    ``right[r, p]`` are the partition's two child regions as rows of the values tensor;
    ``valid_partition[r, p]`` is False on padding. The products of a partition are the
    W x W pairs of a left node i and a right node j, numbered q = p * W * W + i * W + j;
    ``gather[r, q]`` says where the weight of product q sits in the flat logits
    ``[num_weights, num_out]`` (or ``num_weights``, the padding slot, for a pair that
    involves a padded node).
    """

    def __init__(self, regions, partitions_of, region_index, sizes, width, num_out):
        self.regions = [region_index[r] for r in regions]
        self.width, self.num_out = width, num_out
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
        valid_product = valid_product.reshape(len(regions), -1)
        # Only real products count as parameters; `gather` expands them with NEG padding.
        self.num_weights = int(valid_product.sum())
        position = np.cumsum(valid_product.ravel()).reshape(valid_product.shape) - 1
        self.gather = np.where(valid_product, position, self.num_weights).astype(np.int32)

    def log_weights(self, logits):
        """Normalised log sum weights ``[regions, partitions * width^2, num_out]``."""
        pad = tf.fill([1, self.num_out], NEG)
        return tf.nn.log_softmax(tf.gather(tf.concat([logits, pad], 0), self.gather), axis=1)

    def forward(self, values, logits):
        """Sum nodes over the products of their partitions, ``[R, batch, num_out]``.

        The log-sum-exp-through-einsum trick (Peharz et al. 2020, eq. 4): shift by the
        children's maxima, multiply in linear space, contract with the weights, take the
        log, add the shifts. Region-major layout makes the contraction over (partition,
        product) one batched matmul with regions and partitions as its batch.
        """
        num_regions, num_parts = self.left.shape
        left, right = tf.gather(values, self.left), tf.gather(values, self.right)  # [R,P,b,W]
        left_max = tf.stop_gradient(tf.reduce_max(left, -1))                   # [R, P, b]
        right_max = tf.stop_gradient(tf.reduce_max(right, -1))
        shift = tf.where(self.valid_partition[..., None], left_max + right_max, NEG)
        top = tf.reduce_max(shift, 1)                                          # [R, b]
        scale = tf.exp(shift - top[:, None])
        left = tf.exp(left - left_max[..., None]) * scale[..., None]
        right = tf.exp(right - right_max[..., None])
        products = left[..., :, None] * right[..., None, :]                    # [R, P, b, W, W]
        products = tf.reshape(products, [num_regions * num_parts, -1, self.width ** 2])
        weights = tf.reshape(tf.exp(self.log_weights(logits)),
                             [num_regions * num_parts, self.width ** 2, self.num_out])
        sums = tf.reduce_sum(tf.reshape(tf.matmul(products, weights),
                                        [num_regions, num_parts, -1, self.num_out]), 1)
        return tf.math.log(tf.maximum(sums, TINY)) + top[..., None]

    # ---- top-down ----------------------------------------------------------------------
    def most_probable(self, values, logits):
        """Chooser of the MPE pass: every sum node takes its product with the largest
        weighted log-value under ``values`` (a forward pass's region values)."""
        left, right = tf.gather(values, self.left), tf.gather(values, self.right)  # [R,P,b,W]
        left = tf.where(self.valid_partition[..., None, None], left, NEG)
        logp = left[..., :, None] + right[..., None, :]                        # [R, P, b, W, W]
        logp = tf.reshape(tf.transpose(logp, [2, 0, 1, 3, 4]),
                          [tf.shape(values)[1], len(self.regions), -1])         # [b, R, Q]
        child = logp[..., None] + self.log_weights(logits)[None]               # [b, R, Q, out]
        best = tf.argmax(child, axis=2, output_type=tf.int32).numpy()

        def choose(batch, region, node):
            return best[batch, region, node]
        return choose

    def best_products(self, values, logits):
        """The MPE choice as a tensor: ``[b, R, num_out]``, for each sum node the index q of
        its product with the largest weighted log-value (most_probable's, in the graph)."""
        left, right = tf.gather(values, self.left), tf.gather(values, self.right)
        left = tf.where(self.valid_partition[..., None, None], left, NEG)
        logp = left[..., :, None] + right[..., None, :]                        # [R, P, b, W, W]
        logp = tf.reshape(tf.transpose(logp, [2, 0, 1, 3, 4]),
                          [tf.shape(values)[1], len(self.regions), -1])         # [b, R, Q]
        return tf.argmax(logp[..., None] + self.log_weights(logits)[None], axis=2,
                         output_type=tf.int32)

    def descend_graph(self, node, best):
        """descend in the graph: ``node [b, regions]`` (-1: not reached) with the nodes
        chosen by ``best`` (best_products) written into this level's child regions."""
        chosen = tf.gather(node, self.regions, axis=1)                          # [b, R]
        reached = tf.where(chosen >= 0)                                         # [hits, 2]
        q = tf.gather_nd(best, tf.concat([reached, tf.cast(
            tf.gather_nd(chosen, reached)[:, None], tf.int64)], 1))
        w = self.width
        part = q // (w * w)
        where = tf.stack([reached[:, 1], tf.cast(part, tf.int64)], 1)
        batch = reached[:, :1]
        for side, value in ((self.left, (q // w) % w), (self.right, q % w)):
            rows = tf.cast(tf.gather_nd(side, where), tf.int64)[:, None]
            node = tf.tensor_scatter_nd_update(node, tf.concat([batch, rows], 1), value)
        return node

    def sampled(self, logits, rng):
        """Chooser of ancestral sampling: every sum node draws a product by its weights."""
        probs = np.exp(self.log_weights(logits).numpy())

        def choose(batch, region, node):
            p = probs[region, :, node]                                          # [n, Q]
            cdf = np.cumsum(p, axis=1)
            u = rng.random(len(batch))[:, None] * cdf[:, -1:]
            return np.minimum((cdf < u).sum(axis=1), p.shape[1] - 1)
        return choose

    def descend(self, node, choose):
        """Passes the choice down: ``node[b, row]`` is the node chosen in each region (-1:
        not reached); for every reached region of this level, ``choose`` picks a product
        q, and its left and right child regions get nodes (q // W) % W and q % W of
        partition q // W^2."""
        batch, region = np.nonzero(node[:, self.regions] >= 0)
        q = choose(batch, region, node[batch, np.asarray(self.regions)[region]])
        w = self.width
        part, i, j = q // (w * w), (q // w) % w, q % w
        node[batch, self.left[region, part]] = i
        node[batch, self.right[region, part]] = j
