"""The optimiser's share of a training step: Keras' Adam against FusedAdam.

    python benchmarks/adam_bench.py [--repeats=20]

Both update the 3.2 M parameters of the Sprites-preset model with the same random
gradients (seed 0), each inside a tf.function as in the train step, interleaved call by
call. Prints the median time of each and their ratio, and checks that the
two leave the parameters equal to float32 rounding.
"""

import argparse

import keras

from common import interleaved_medians, np, tf
from supair_tf import PRESETS, Supair
from supair_tf.training import FusedAdam


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=20)
    args = parser.parse_args()
    model = Supair(PRESETS['sprites'], seed=0, jit_compile=False)
    start = [v.numpy() for v in model.model_variables]
    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.normal(size=v.shape), tf.float32) for v in start]
    print(f'{sum(v.size for v in start) / 1e6:.2f} M parameters in {len(start)} variables')
    copies, steps = {}, {}
    for name, cls in (('keras Adam', keras.optimizers.Adam), ('FusedAdam', FusedAdam)):
        variables = [tf.Variable(v) for v in start]
        optimizer = cls(1e-3, epsilon=1e-8)
        optimizer.build(variables)

        def step(optimizer=optimizer, variables=variables):
            optimizer.apply_gradients(zip(grads, variables, strict=True))
            return optimizer.iterations
        copies[name], steps[name] = variables, tf.function(step)
    medians = interleaved_medians({name: lambda s=step: s().numpy() for name, step in
                                   steps.items()}, args.repeats)
    worst = max(float(np.abs(a.numpy() - b.numpy()).max())
                for a, b in zip(*copies.values(), strict=True))
    for name, seconds in medians.items():
        print(f'{name:10s} median {1e3 * seconds:.1f} ms per update')
    print(f"FusedAdam {medians['keras Adam'] / medians['FusedAdam']:.2f}x faster; parameters "
          f'after {args.repeats + 2} updates equal within {worst:.1e}')


if __name__ == '__main__':
    main()
