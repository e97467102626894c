"""Throughput of SuPAIR's training step, where its time goes, and the plain-SPN step.

    python benchmarks/train_bench.py [--repeats=7] [--batch_size=256]

Paper configuration (Sprites preset), random scenes. Stage shares come from
compiled forward+backward passes that stop after each stage in turn (inference
net; + transformer and masks; + object SPN; + background SPN = the whole loss);
the optimiser's share is the full step minus the whole loss. The plain step swaps
both SPNs for the per-region evaluation of benchmarks/spn_bench.py.
"""

import argparse

from common import interleaved_medians, np, tf  # noqa: I100

from supair_tf import PRESETS, Supair
from supair_tf.elbo import enumerated_elbo
from supair_tf.masks import cut_and_paste
from supair_tf.transformer import transform
from tests.rat_spn.plain_spn import plain_log_density


def staged_loss(model, images, upto):
    """A scalar that depends on the stages up to ``upto`` (1-4), for timing them."""
    c = model.config
    z_pres, mean, std = model.inference(images)
    z_where = mean + std * model.where_noise(tf.shape(images)[0], 0)
    total = tf.reduce_sum(z_pres) + tf.reduce_sum(z_where)
    if upto >= 2:
        patches, indicators = transform(images[..., 0], z_where, c.patch_size)
        visibility, bg_masks, overlap = cut_and_paste(z_where, indicators, c.patch_size)
        total += tf.reduce_sum(patches) + tf.reduce_sum(bg_masks) + tf.reduce_sum(overlap)
    if upto >= 3:
        area = c.patch_size ** 2
        total += tf.reduce_sum(model.object_spn(
            tf.reshape(patches, [-1, area]), marginalized=tf.reshape(1.0 - visibility, [-1, area])))
    if upto >= 4:
        bg = model.background_log_lik(images[..., 0], bg_masks)
        total += tf.reduce_sum(enumerated_elbo(z_pres, tf.zeros_like(z_pres), bg,
                                               tf.zeros_like(z_pres[:, 0]), model.count_prior))
    return total


def gradient_fn(model, upto):
    @tf.function
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--batch_size', type=int, default=256)
    args = parser.parse_args()
    images = tf.constant(np.random.default_rng(0).uniform(0, 1, (args.batch_size, 50, 50, 1)),
                         tf.float32)
    model = Supair(PRESETS['sprites'])
    plain = Supair(PRESETS['sprites'])
    use_plain_spns(plain)
    block = lambda out: tf.nest.map_structure(lambda t: t.numpy(), out)  # noqa: E731
    stages = {f'upto{k}': gradient_fn(model, k) for k in range(1, 5)}
    fns = {name: (lambda f=f: block(f(images))) for name, f in stages.items()}
    fns['step'] = lambda: block(model.train_step(images))
    fns['plain step'] = lambda: block(plain.train_step(images))
    t = interleaved_medians(fns, args.repeats)
    shares = {'inference net': t['upto1'], 'transformer + masks': t['upto2'] - t['upto1'],
              'object SPN': t['upto3'] - t['upto2'], 'background SPN': t['upto4'] - t['upto3'],
              'optimiser': t['step'] - t['upto4']}
    print(f'train_step, batch {args.batch_size}: median {1e3 * t["step"]:.0f} ms = '
          f'{args.batch_size / t["step"]:.0f} scenes/s')
    for name, seconds in shares.items():
        print(f'  {name:22s} {1e3 * seconds:7.1f} ms  {100 * seconds / t["step"]:5.1f}%')
    print(f'plain-SPN step: {1e3 * t["plain step"]:.0f} ms = '
          f'{args.batch_size / t["plain step"]:.0f} scenes/s; '
          f'speed-up {t["plain step"] / t["step"]:.1f}x')


if __name__ == '__main__':
    main()
