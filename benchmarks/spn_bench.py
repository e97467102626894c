"""Forward+backward of SuPAIR's SPNs: the layer against a plain per-region evaluation.

    python benchmarks/spn_bench.py [--repeats=5]

Object SPN on 768 x 784 (one batch of 256 scenes x 3 patches) and background SPN on
1024 x 2500 (256 scenes x 4 counts), random inputs and random masks; both versions
compiled with tf.function and run in turns within this one process.
"""

import argparse

from common import interleaved_medians, np, tf
from rat_spn import RatSpn, RegionGraph
from rat_spn.reference import plain_log_density


def paper_spn(num_items, splits, depth, num_gauss, num_sums, var_range):
    spn = RatSpn(RegionGraph.random(num_items, splits, depth), num_gauss, num_sums, 1, var_range)
    spn.build()
    return spn


def forward_backward(spn, evaluate):
    @tf.function(jit_compile=False)
    def step(x, m):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(evaluate(spn, x, m))
        grads = tape.gradient(total, spn.trainable_variables + [x])
        return total, [tf.convert_to_tensor(g) for g in grads]
    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cases = {'object SPN, 768 x 784': (paper_spn(784, 6, 2, 20, 20, (0.12, 0.35)), 768),
             'background SPN, 1024 x 2500': (paper_spn(2500, 3, 1, 6, 3, (0.002, 0.12)), 1024)}
    def fast(spn, x, m):
        return spn(x, marginalized=m)

    def plain(spn, x, m):
        return plain_log_density(spn, x, m, tf.float32)

    print(f'{"case":30s} {"layer ms":>10s} {"plain ms":>10s} {"speed-up":>9s}')
    for name, (spn, batch) in cases.items():
        x = tf.constant(rng.uniform(0, 1, (batch, spn.num_items)), tf.float32)
        m = tf.constant((rng.uniform(size=(batch, spn.num_items)) < 0.5), tf.float32)
        steps = {'layer': forward_backward(spn, fast), 'plain': forward_backward(spn, plain)}
        agree = np.allclose(steps['layer'](x, m)[0].numpy(), steps['plain'](x, m)[0].numpy(),
                            rtol=1e-3)
        times = interleaved_medians({k: (lambda s=s, x=x, m=m: s(x, m)[0].numpy())
                                     for k, s in steps.items()},
                                    args.repeats)
        print(f'{name:30s} {1e3 * times["layer"]:10.1f} {1e3 * times["plain"]:10.1f} '
              f'{times["plain"] / times["layer"]:8.1f}x' + ('' if agree else '  (RESULTS DIFFER)'))


if __name__ == '__main__':
    main()
