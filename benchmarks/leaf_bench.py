"""An SPN's leaf level: the dense layout against other orders and zero-free block layouts.

    python benchmarks/leaf_bench.py [--repeats=8] [--spn=object|background]

The object RAT-SPN (6 repetitions x 4 leaf regions of 196 of the 784 patch pixels)
evaluates its leaves as three dense ``[b, 784] x [784, 24 * 20]`` products (RatSpn's
_leaf_level), 3/4 of whose terms are multiplications by zero. The block layouts gather
each region's pixels first and contract only those (a quarter of the arithmetic):
  rbs:  gather to ``[b, R, S]``, transpose to ``[R, b, S]``, batched matmul per statistic;
  stack: the same with the three statistics stacked into one ``[R, b, 3 S]`` product;
  rsb:  gather the transposed inputs to ``[R, S, b]`` and contract S;
  rsb_rgb: the same, the products written as ``[R, G, b]`` and then transposed;
  rsb_slots: rsb_rgb whose gather's gradient gathers each item's copies back and sums
        them (slot_gather) instead of XLA's scatter.
With ``--step`` it also times the whole compiled train step with the object SPN's
leaf level in each block layout against the dense one (the layouts' own gradients
are checked against the dense ones first).
Two more orders of the dense products, for either SPN:
  transposed: the products computed as ``[R * G, D] x [D, b]`` (the parameters first);
  concat: the three statistics side by side, one ``[b, 3 D] x [3 D, R * G]`` product.
The background SPN (``--spn=background``: 2,500 pixels, 6 regions x 6 Gaussians, batch
1,024 = 256 scenes x 4 counts) has only the dense orders.
Each is timed forward and backward (inputs, mask, means, variances) under XLA, as in the
train step: batch 768 (256 scenes x 3 objects), 30% of the pixels marginalised, seed 0.
Prints each layout's largest difference from the dense one and its median time.
"""

import argparse
import math
import time

from common import interleaved_medians, np, tf
from supair_tf import PRESETS, Supair
from supair_tf.training import make_optimizer, make_train_step

BLOCK_LAYOUTS = ('rbs', 'stack', 'rsb', 'rsb_rgb', 'rsb_slots')


def block_leaf(spn, layout):
    """A leaf-level function ``(x, marginalized) -> [R, b, G]`` in the given layout."""
    regions, size = spn.leaf_items.shape
    flat = spn.leaf_items.ravel()                   # the dummy item num_items pads regions
    valid = (spn.leaf_items < spn.num_items).astype(np.float32)[..., None]

    def leaf(x, marginalized):
        keep = 1.0 - tf.clip_by_value(marginalized, 0.0, 1.0)
        mean, var = spn.leaf_parameters()                                    # [R, S, G]
        precision = valid / var
        square, linear = -0.5 * precision, mean * precision
        constant = -0.5 * mean * mean * precision - 0.5 * valid * tf.math.log(2 * math.pi * var)
        if layout.startswith('rsb'):
            if layout == 'rsb_slots':
                spread = slot_gather(spn)
            else:
                def spread(t):
                    padded = tf.concat([t, tf.zeros_like(t[:1])], 0)
                    return tf.reshape(tf.gather(padded, flat), [regions, size, -1])
            kept, xs = spread(tf.transpose(keep)), spread(tf.transpose(x))
            kept_x = kept * xs
            pairs = ((kept_x * xs, square), (kept_x, linear), (kept, constant))
            if layout == 'rsb':
                return sum(tf.einsum('rsb,rsg->rbg', s, p) for s, p in pairs)
            # Region, Gaussian, batch: another output order for XLA's batched product.
            return tf.transpose(sum(tf.einsum('rsb,rsg->rgb', s, p) for s, p in pairs),
                                [0, 2, 1])

        def spread(t):
            padded = tf.concat([t, tf.zeros_like(t[:, :1])], 1)
            return tf.transpose(tf.reshape(tf.gather(padded, flat, axis=1),
                                           [-1, regions, size]), [1, 0, 2])
        kept, kept_x = spread(keep), spread(keep * x)
        stats = (kept_x * spread(x), kept_x, kept)
        if layout == 'stack':
            return tf.matmul(tf.concat(stats, -1), tf.concat([square, linear, constant], 1))
        return sum(tf.matmul(s, p) for s, p in zip(stats, (square, linear, constant), strict=True))
    return leaf


def slot_gather(spn):
    """``t [D, b] -> [R, S, b]``, each leaf region's rows, whose gradient gathers each
    item's slots back and sums them (no scatter)."""
    regions, size = spn.leaf_items.shape
    flat = spn.leaf_items.ravel()
    counts = np.bincount(flat, minlength=spn.num_items + 1)[:spn.num_items]
    slots = np.full([spn.num_items, counts.max()], flat.size, np.int32)
    filled = np.zeros(spn.num_items, np.int32)
    for slot, item in enumerate(flat):
        if item < spn.num_items:
            slots[item, filled[item]] = slot
            filled[item] += 1

    @tf.custom_gradient
    def spread(t):                     # t: [D, b]
        padded = tf.concat([t, tf.zeros_like(t[:1])], 0)

        def grad(g):
            g = tf.concat([tf.reshape(g, [flat.size, -1]), tf.zeros_like(t[:1])], 0)
            return tf.reduce_sum(tf.gather(g, slots), 1)
        return tf.reshape(tf.gather(padded, flat), [regions, size, -1]), grad
    return spread


def dense_leaf(spn, order):
    """The dense leaf level with its products in another ``order``, ``[R, b, G]``."""
    def leaf(x, marginalized):
        keep = 1.0 - tf.clip_by_value(marginalized, 0.0, 1.0)
        params = spn._natural_parameters()                                   # [D, R*G] x 3
        stats = (keep * x * x, keep * x, keep)
        if order == 'transposed':
            log_p = tf.transpose(sum(tf.matmul(p, s, transpose_a=True, transpose_b=True)
                                     for s, p in zip(stats, params, strict=True)))
        else:
            log_p = tf.matmul(tf.concat(stats, 1), tf.concat(params, 0))
        log_p = tf.reshape(log_p, [-1, len(spn.leaf_items), spn.num_gauss])
        return tf.transpose(log_p, [1, 0, 2])
    return leaf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=8)
    parser.add_argument('--spn', choices=['object', 'background'], default='object')
    parser.add_argument('--step', action='store_true',
                        help='also time the whole train step with each block layout')
    args = parser.parse_args()
    model = Supair(PRESETS['sprites'], seed=0)
    spn = model.object_spn if args.spn == 'object' else model.background_spn
    rng = np.random.default_rng(0)
    shape = (768 if args.spn == 'object' else 1024, spn.num_items)
    x = tf.constant(rng.uniform(0, 1, shape), tf.float32)
    hidden = tf.constant((rng.uniform(0, 1, shape) < 0.3).astype(np.float32))
    upstream = tf.constant(rng.normal(size=(len(spn.leaf_items), shape[0], spn.num_gauss)),
                           tf.float32)

    def compiled(leaf):
        @tf.function(jit_compile=True)
        def forward_backward(x, hidden):
            with tf.GradientTape() as tape:
                tape.watch([x, hidden])
                loss = tf.reduce_sum(leaf(x, hidden) * upstream)
            grads = tape.gradient(loss, [x, hidden, spn.means, spn.var_params])
            return [tf.convert_to_tensor(g) for g in grads]
        return forward_backward

    layouts = {'dense': compiled(spn._leaf_level)}
    layouts.update({name: compiled(dense_leaf(spn, name)) for name in ('transposed', 'concat')})
    if args.spn == 'object':
        layouts.update({name: compiled(block_leaf(spn, name))
                        for name in BLOCK_LAYOUTS})
    reference = [t.numpy() for t in layouts['dense'](x, hidden)]
    times = {name: [] for name in layouts}
    for name, fn in layouts.items():
        got = [t.numpy() for t in fn(x, hidden)]
        worst = max(float(np.abs(g - r).max() / np.abs(r).max())
                    for g, r in zip(got, reference, strict=True))
        print(f'{name:10s} gradients within {worst:.1e} of the dense layout '
              '(relative to the largest)')
    for _ in range(args.repeats):          # interleaved: the machine's speed drifts
        for name, fn in layouts.items():
            start = time.perf_counter()
            [t.numpy() for t in fn(x, hidden)]
            times[name].append(time.perf_counter() - start)
    for name, t in times.items():
        print(f'{name:10s} forward + backward: median {1e3 * np.median(t):.1f} ms, '
              f'fastest {1e3 * min(t):.1f} ms')
    if args.step and args.spn == 'object':
        time_whole_steps(args.repeats)


def time_whole_steps(repeats):
    """The compiled train step (batch 256 of random scenes, seed 0) with the object
    SPN's leaf level dense and in each zero-free layout that does not lose alone."""
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (256, 50, 50, 1)), tf.float32)
    steps = {}
    for name in ('dense', 'rsb', 'rsb_rgb'):
        net = Supair(PRESETS['sprites'], seed=0)
        if name != 'dense':
            net.object_spn._leaf_level = block_leaf(net.object_spn, name)
        steps[name] = make_train_step(net, make_optimizer(net))
        steps[name](images)
    medians = interleaved_medians({name: lambda s=s: float(s(images))
                                   for name, s in steps.items()}, repeats)
    print('whole train step: ' + ', '.join(f'{name} {1e3 * t:.1f} ms'
                                           for name, t in medians.items()))


if __name__ == '__main__':
    main()
