"""Throughput of SuPAIR's training step, where its time goes, and the machine's limit.

    python benchmarks/train_bench.py [--repeats=7] [--batch_size=256] [--nojit]

Paper configuration (Sprites preset), random scenes. Stage shares come from
forward+backward passes, compiled like the step, that stop after each stage in turn
(inference net; + transformer and masks; + object SPN; + background SPN = the whole
loss); the optimiser's share is the full step minus the whole loss. The plain step
swaps both SPNs for the per-region evaluation of benchmarks/spn_bench.py (no XLA).

The same run times square float32 and bfloat16 matmuls of the step's largest shapes
and counts the step's matrix-product arithmetic in its compiled graph, so the step
reads against what this machine's matmuls can do.
"""

import argparse
import re

from common import interleaved_medians, np, tf
from supair_tf import PRESETS, Supair
from supair_tf.elbo import enumerated_elbo
from supair_tf.masks import cut_and_paste
from supair_tf.training import make_optimizer, make_train_step
from supair_tf.transformer import transform
from tests.rat_spn.plain_spn import plain_log_density


def staged_loss(model, images, upto):
    """A scalar that depends on the stages up to ``upto`` (1-4), for timing them."""
    c = model.config
    z_pres, mean, std = model.inference(images)
    z_where = mean + std * model.where_noise(tf.shape(images)[0], 0)
    total = tf.reduce_sum(z_pres) + tf.reduce_sum(z_where)
    if upto >= 2:
        patches, indicators = transform(images, z_where, c.patch_size)
        visibility, bg_masks, overlap = cut_and_paste(z_where, indicators, c.patch_size)
        total += tf.reduce_sum(patches) + tf.reduce_sum(bg_masks) + tf.reduce_sum(overlap)
    if upto >= 3:
        area = c.patch_size ** 2
        total += tf.reduce_sum(model.object_spn(
            tf.reshape(patches, [-1, area]), marginalized=tf.reshape(1.0 - visibility, [-1, area])))
    if upto >= 4:
        bg = model.background_log_lik(images, bg_masks)
        total += tf.reduce_sum(enumerated_elbo(z_pres, tf.zeros_like(z_pres), bg,
                                               tf.zeros_like(z_pres[:, 0]), model.count_prior))
    return total


def gradient_fn(model, upto, jit_compile):
    @tf.function(jit_compile=jit_compile)
    def run(images):
        with tf.GradientTape() as tape:
            loss = staged_loss(model, images, upto)
        grads = tape.gradient(loss, model.model_variables)
        return loss, [tf.convert_to_tensor(g) for g in grads if g is not None]
    return run


def use_plain_spns(model):
    for spn in (model.object_spn, model.background_spn):
        spn.call = lambda x, marginalized=None, spn=spn: plain_log_density(
            spn, x, marginalized, tf.float32)


def dot_flops(hlo_text):
    """Multiply-adds x 2 of every dot in an HLO module's text."""
    shapes = {name: [int(d) for d in dims.split(',') if d] for name, dims in
              re.findall(r'%([\w.\-]+) = \w+\[([\d,]*)\]', hlo_text)}
    total = 0
    for out, lhs, dims in re.findall(r'= \w+\[([\d,]*)\]\S* dot\(%([\w.\-]+), .*?'
                                     r'lhs_contracting_dims=\{([\d,]*)\}', hlo_text):
        contracted = np.prod([shapes[lhs][int(d)] for d in dims.split(',')])
        total += 2 * np.prod([int(d) for d in out.split(',') if d]) * contracted
    return float(total)


def matmul_throughput(repeats, n=2048):
    """GFLOP/s of an n^3 matmul in float32 and in bfloat16, medians of interleaved runs."""
    a = tf.random.stateless_normal([n, n], [0, 1])
    pairs = {'float32': (a, a), 'bfloat16': (tf.cast(a, tf.bfloat16),) * 2}
    matmul = tf.function(tf.matmul)
    t = interleaved_medians({k: (lambda x=x: matmul(*x).numpy()) for k, x in pairs.items()},
                            repeats)
    return {k: 2 * n ** 3 / seconds / 1e9 for k, seconds in t.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--batch_size', type=int, default=256)
    parser.add_argument('--nojit', dest='jit', action='store_false',
                        help='plain TensorFlow graphs instead of XLA')
    args = parser.parse_args()
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (args.batch_size, 50, 50, 1)),
                         tf.float32)
    model = Supair(PRESETS['sprites'], jit_compile=args.jit)
    plain = Supair(PRESETS['sprites'], jit_compile=False)
    use_plain_spns(plain)

    def block(out):
        return tf.nest.map_structure(lambda t: t.numpy(), out)

    stages = {f'upto{k}': gradient_fn(model, k, args.jit) for k in range(1, 5)}
    fns = {name: (lambda f=f: block(f(images))) for name, f in stages.items()}
    train_step = make_train_step(model, make_optimizer(model))
    plain_step = make_train_step(plain, make_optimizer(plain))
    fns['step'] = lambda: block(train_step(images))
    t = interleaved_medians(fns, args.repeats)
    # Timed on its own: its large allocations would slow whichever call came next.
    t.update(interleaved_medians({'plain step': lambda: block(plain_step(images))},
                                 args.repeats))
    gemm = matmul_throughput(args.repeats)
    noise = model.where_noise(args.batch_size, 0)
    compiled = tf.function(model.loss_and_gradients_graph, jit_compile=True)
    hlo = compiled.experimental_get_compiler_ir(images, noise, 1)(stage='optimized_hlo')
    flops = dot_flops(hlo)
    shares = {'inference net': t['upto1'], 'transformer + masks': t['upto2'] - t['upto1'],
              'object SPN': t['upto3'] - t['upto2'], 'background SPN': t['upto4'] - t['upto3'],
              'optimiser': t['step'] - t['upto4']}
    print(f'train_step, batch {args.batch_size}: median {1e3 * t["step"]:.0f} ms = '
          f'{args.batch_size / t["step"]:.0f} scenes/s')
    for name, seconds in shares.items():
        print(f'  {name:22s} {1e3 * seconds:7.1f} ms  {100 * seconds / t["step"]:5.1f}%')
    print(f'matmuls: float32 {gemm["float32"]:.0f} GFLOP/s, bfloat16 {gemm["bfloat16"]:.0f} '
          f'GFLOP/s (2048^3); the step\'s matrix products: {flops / 1e9:.2f} GFLOP, '
          f'{1e3 * flops / 1e9 / gemm["float32"]:.0f} ms at the float32 rate = '
          f'{100 * flops / 1e9 / gemm["float32"] / t["step"]:.0f}% of the step')
    print(f'plain-SPN step: {1e3 * t["plain step"]:.0f} ms = '
          f'{args.batch_size / t["plain step"]:.0f} scenes/s; '
          f'speed-up {t["plain step"] / t["step"]:.1f}x')


if __name__ == '__main__':
    main()
