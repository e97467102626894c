"""Throughput of SuPAIR's training step against the machine's limit and a plain step.

    python benchmarks/train_bench.py [--repeats=7] [--batch_size=256] [--nojit]

Paper configuration (Sprites preset), random scenes; the step under
``--procedure=explore`` (its warm-ups at work, step 0) is timed interleaved with the
paper's. The plain step is the same model with both SPNs evaluated region by region
(rat_spn.reference, float32, no XLA). The same
run times square float32 and bfloat16 matmuls and counts the step's matrix-product
arithmetic in its compiled graph, so the step reads against what this machine's matmuls
can do.
"""

import argparse
import functools
import re

from common import interleaved_medians, np, tf
from rat_spn.reference import PerRegionRatSpn
from shared.training import make_optimizer, make_train_step
from supair_tf import PRESETS, Supair

# The authors' procedure, as the recorded figures measured it (explore is timed apart).
PAPER = PRESETS['sprites'].replace(procedure='paper')
# The explore procedures timed beside it (at step 0, every warm-up at work): the one of the
# MNIST presets before issue 50, and the presets' since (supair_tf/config.py).
PROCEDURES = {
    'explore, every warm-up': dict(procedure='explore', explore_min_scale=0.55),
    'explore, Sprites preset (234 steps)': dict(procedure='explore', explore_min_scale=0.55,
                                                explore_steps=234),
    'explore, gated floor of each box': dict(procedure='explore', explore_min_scale=0.0,
                                             explore_spread=0.0, explore_gate=0.2,
                                             explore_gate_each=True),
}


def models(jit_compile=True):
    """The model as trained, and the same model (same parameters) with per-region SPNs."""
    fast = Supair(PAPER, jit_compile=jit_compile)
    per_region = functools.partial(PerRegionRatSpn, precision=tf.float32)
    return fast, Supair(PAPER, jit_compile=False, spn_layer=per_region)


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
    model, plain = models(args.jit)

    def block(out):
        return tf.nest.map_structure(lambda t: t.numpy(), out)

    train_step = make_train_step(model, make_optimizer(model))
    plain_step = make_train_step(plain, make_optimizer(plain))
    explore_steps = {name: make_train_step(m, make_optimizer(m)) for name, m in (
        (name, Supair(PAPER.replace(**fields), jit_compile=args.jit))
        for name, fields in PROCEDURES.items())}
    t = interleaved_medians({'step': lambda: block(train_step(images)),
                             **{name: (lambda s=s: block(s(images)))
                                for name, s in explore_steps.items()}},
                            args.repeats)
    # Timed on its own: its large allocations would slow whichever call came next.
    t.update(interleaved_medians({'plain step': lambda: block(plain_step(images))},
                                 args.repeats))
    gemm = matmul_throughput(args.repeats)
    noise = model.where_noise(args.batch_size, 0)
    compiled = tf.function(model.loss_and_gradients_graph, jit_compile=True)
    flops = dot_flops(compiled.experimental_get_compiler_ir(images, noise, 1)(
        stage='optimized_hlo'))
    print(f'train_step, batch {args.batch_size}: median {1e3 * t["step"]:.0f} ms = '
          f'{args.batch_size / t["step"]:.0f} scenes/s')
    print(f'matmuls: float32 {gemm["float32"]:.0f} GFLOP/s, bfloat16 {gemm["bfloat16"]:.0f} '
          f'GFLOP/s (2048^3); the step\'s matrix products: {flops / 1e9:.2f} GFLOP, '
          f'{1e3 * flops / 1e9 / gemm["float32"]:.0f} ms at the float32 rate = '
          f'{100 * flops / 1e9 / gemm["float32"] / t["step"]:.0f}% of the step')
    for name in PROCEDURES:
        print(f'{name}: median {1e3 * t[name]:.0f} ms, {t[name] / t["step"]:.2f}x the '
              'paper\'s step')
    print(f'plain-SPN step: {1e3 * t["plain step"]:.0f} ms = '
          f'{args.batch_size / t["plain step"]:.0f} scenes/s; '
          f'speed-up {t["plain step"] / t["step"]:.1f}x')


if __name__ == '__main__':
    main()
