"""Can two half batches keep both cores busy where one batch leaves one idle?

    python benchmarks/split_bench.py [--repeats=10]

profile_step.py shows the step's work outside the matrix products taking as long on one
thread as on two. If that work were waiting for a free thread rather than for memory,
two independent halves of the batch would run it side by side. Timed, interleaved, on
the Sprites preset (batch 256 of uniform random scenes, seed 0), the loss and gradients
(no Adam) as:
  whole:     one XLA program on the batch (what the train step runs);
  one XLA:   one XLA program on two halves of 128 (independent subgraphs);
  two XLA:   two XLA programs of 128 each, called from one graph with two inter-op
             threads, so TensorFlow may run them at the same time.
Prints the medians and the largest relative difference of the gradients from ``whole``
(the same sum, in another order).
"""

import argparse

from common import interleaved_medians, np, tf
from supair_tf import PRESETS, Supair


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(2)
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (256, 50, 50, 1)), tf.float32)
    model = Supair(PRESETS['sprites'], seed=0)
    noise = model.where_noise(256, 5)
    halves = [slice(0, 128), slice(128, 256)]

    @tf.function(jit_compile=True)
    def whole(images, noise):
        return model.loss_and_gradients_graph(images, noise)

    @tf.function(jit_compile=True)
    def one_xla(images, noise):
        with tf.GradientTape() as tape:
            elbos = [model.elbo_graph(images[h], noise[h]) for h in halves]
            loss = -tf.add_n([tf.reduce_sum(e) for e in elbos]) / 256.0
        return loss, [tf.convert_to_tensor(g)
                      for g in tape.gradient(loss, model.model_variables)]

    @tf.function(jit_compile=True)
    def half(images, noise):
        return model.loss_and_gradients_graph(images, noise, replicas=2)

    @tf.function
    def two_xla(images, noise):
        parts = [half(images[h], noise[h]) for h in halves]
        return (parts[0][0] + parts[1][0],
                [a + b for a, b in zip(parts[0][1], parts[1][1], strict=True)])

    ways = {'whole': whole, 'one XLA': one_xla, 'two XLA': two_xla}
    reference = whole(images, noise)[1]
    for name, fn in ways.items():
        grads = fn(images, noise)[1]
        worst = max(float(tf.reduce_max(tf.abs(g - r)) / tf.reduce_max(tf.abs(r)))
                    for g, r in zip(grads, reference, strict=True))
        print(f'{name:8s} gradients within {worst:.1e} of whole (relative to the largest)')
    medians = interleaved_medians({n: (lambda f=f: f(images, noise)[0].numpy())
                                   for n, f in ways.items()}, args.repeats)
    print('loss and gradients: ' + ', '.join(f'{n} {1e3 * s:.1f} ms'
                                             for n, s in medians.items()))


if __name__ == '__main__':
    main()
