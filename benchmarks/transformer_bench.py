"""The spatial transformer and the masks: the current path against a former and a tried one.

    python benchmarks/transformer_bench.py [--repeats=10]

Until session 7 the patches were ``T_y image T_x^T``, two batched matmuls with the
bilinear "tents" T (``tents_extract`` below keeps that path); since then they are
gathers of the neighbouring rows and columns: in sessions 7-8 one gather per neighbour
(``neighbour_gathers_extract``), since session 9 both neighbours of a pass in one gather
(supair_tf.transformer.extract_patches).
The masks cut each object's visibility patch out in a step of its own
(supair_tf.masks.cut_and_paste); session 8 tried all steps' patches as one extraction
(``one_extraction_cut_and_paste`` below: fewer, larger operations) and kept the step
by step one. On the Sprites preset (batch 256 of uniform random scenes, seed 0),
interleaved call by call:
  1. transformer and masks alone, forward and gradient with respect to the boxes, under XLA;
  2. the whole compiled train step, once with each path traced into it.
Prints the medians and the largest difference of the gradients from the current path.
"""

import argparse

from common import interleaved_medians, np, tf
from supair_tf import PRESETS, Supair, masks, transformer
from supair_tf import model as model_module
from supair_tf.training import make_optimizer, make_train_step


def tents_extract(images, z_where, patch_size, offset=0.0):
    """The former path: patches ``[b, k, A, A, C]`` as ``T_y image T_x^T``."""
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    rows = transformer._tents(y + offset, sy, patch_size, height)            # [b, k, A, H]
    cols = transformer._tents(x + offset, sx, patch_size, width)
    b, k = tf.shape(rows)[0], z_where.shape[1]
    flat = tf.reshape(images, [b, height, width * channels])
    sampled = tf.matmul(tf.reshape(rows, [b, k * patch_size, height]), flat)
    sampled = tf.reshape(sampled, [b, k, patch_size, width, channels])
    sampled = tf.reshape(tf.transpose(sampled, [0, 1, 4, 2, 3]),
                         [b, k, channels * patch_size, width])
    patches = tf.matmul(sampled, cols, transpose_b=True)
    return tf.transpose(tf.reshape(patches, [b, k, channels, patch_size, patch_size]),
                        [0, 1, 3, 4, 2])


def neighbour_gathers_extract(images, z_where, patch_size, offset=0.0):
    """Sessions 7-8: the lower and the upper neighbours in gathers of their own."""
    b, k = tf.shape(z_where)[0], z_where.shape[1]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    sx, sy, x, y = tf.unstack(z_where, axis=-1)
    row, row_f = transformer._neighbours(y + offset, sy, patch_size, height)  # [b, k, A]
    col, col_f = transformer._neighbours(x + offset, sx, patch_size, width)
    row = tf.reshape(row, [b, k * patch_size])
    f = tf.reshape(row_f, [b, k * patch_size, 1, 1])
    rows = ((1.0 - f) * tf.gather(images, row, axis=1, batch_dims=1)
            + f * tf.gather(images, row + 1, axis=1, batch_dims=1))           # [b, k*A, W, C]
    rows = tf.reshape(rows, [b, k, patch_size, width, channels])
    f = col_f[:, :, None, :, None]
    return ((1.0 - f) * tf.gather(rows, col, axis=3, batch_dims=2)
            + f * tf.gather(rows, col + 1, axis=3, batch_dims=2))             # [b, k, A, A, C]


def one_extraction_cut_and_paste(z_where, indicators, patch_size):
    """The masks with every step's visibility patch cut out in one extraction, each from
    the background mask its object sees (tried in session 8, not kept)."""
    bg = tf.ones_like(indicators[:, 0])
    bg_masks = [bg]
    for indicator in tf.unstack(indicators, axis=1):
        bg = bg * (1.0 - indicator)
        bg_masks.append(bg)
    steps, (height, width) = z_where.shape[1], indicators.shape[2:]
    before = tf.pad(tf.stack(bg_masks[:steps], axis=1), [[0, 0], [0, 0], [1, 1], [1, 1]])
    visibility = masks.extract_patches(tf.reshape(before, [-1, height + 2, width + 2, 1]),
                                       tf.reshape(z_where, [-1, 1, 4]), patch_size, offset=1.0)
    visibility = tf.reshape(visibility, [-1, steps, patch_size, patch_size])
    overlap = 1.0 - tf.reduce_mean(visibility, axis=[2, 3])
    return visibility, tf.stack(bg_masks, axis=1), overlap


CURRENT = (transformer.extract_patches, masks.cut_and_paste)


def using(extract, cut_and_paste):
    """Points the transformer, the masks and the model at these functions (read when a
    graph is traced)."""
    transformer.extract_patches = masks.extract_patches = extract
    model_module.cut_and_paste = cut_and_paste


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args()
    config = PRESETS['sprites']
    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (256, *config.scene_shape)), tf.float32)
    z_where = tf.constant(np.stack([rng.uniform(0.3, 0.9, (256, 3)),
                                    rng.uniform(0.3, 1.1, (256, 3)),
                                    rng.uniform(-3, 48, (256, 3)),
                                    rng.uniform(-3, 48, (256, 3))], -1), tf.float32)
    weights = [tf.constant(rng.normal(size=s), tf.float32)
               for s in ((256, 3, 28, 28, 1), (256, 3, 28, 28), (256, 4, 50, 50), (256, 3))]

    def piece(cut_and_paste):
        @tf.function(jit_compile=True)
        def forward_backward(z_where):
            with tf.GradientTape() as tape:
                tape.watch(z_where)
                patches, indicators = transformer.transform(images, z_where, 28)
                outputs = (patches,) + cut_and_paste(z_where, indicators, 28)
                loss = sum(tf.reduce_sum(o * w) for o, w in zip(outputs, weights, strict=True))
            return tape.gradient(loss, z_where)
        return forward_backward

    paths = {'tents (session 6)': (tents_extract, CURRENT[1]),
             'a gather per neighbour (sessions 7-8)': (neighbour_gathers_extract, CURRENT[1]),
             'gathers (now)': CURRENT,
             'gathers, masks in one extraction (tried)': (CURRENT[0],
                                                          one_extraction_cut_and_paste)}
    pieces, steps = {}, {}
    for name, (extract, cut_and_paste) in paths.items():
        using(extract, cut_and_paste)
        pieces[name] = piece(cut_and_paste)
        pieces[name](z_where)                                   # traced with this path
        net = Supair(config, seed=0)
        steps[name] = make_train_step(net, make_optimizer(net))
        steps[name](images)
    using(*CURRENT)
    grads = {name: f(z_where).numpy() for name, f in pieces.items()}
    now = grads['gathers (now)']
    print(f'gradients with respect to the boxes: largest {np.abs(now).max():.1f}; '
          + ', '.join(f'{name} differs from now by at most {np.abs(g - now).max():.1e}'
                      for name, g in grads.items() if g is not now))
    for label, fns in (('transformer + masks, forward and backward', pieces),
                       ('whole train step', steps)):
        arg = z_where if fns is pieces else images
        medians = interleaved_medians({n: (lambda f=f, a=arg: tf.nest.map_structure(
            lambda t: t.numpy(), f(a))) for n, f in fns.items()}, args.repeats)
        print(label + ': ' + ', '.join(f'{n} {1e3 * s:.1f} ms' for n, s in medians.items()))


if __name__ == '__main__':
    main()
