"""Trains the authors' graph (stelzner/supair, src/) and ours from the same start, side by
side, to see whether a seed that fails here fails in the original too.

Both get the original's region graphs (drawn by its own RegionGraph with ``--seed``) and
our initial parameters of ``--seed`` (written into the original's variables, as
reference_check does); with ``--start=original`` both begin from the original's own
initialisers (TF1 graph seed ``--seed``), as its own runs began: ours gets those values
(reference_check.load_into_ours), so ``--start=original --which=ours`` trains our graph from
the original's own draw.
Training is Adam (learning rate 1e-3, TF1's epsilon) on the same batches: the stored
order, the same every epoch, as the original's main.py takes them. Each draws its own
z_where noise. After every epoch both count the first ``--test_scenes`` test scenes
(z_pres >= 0.5 summed).

    python crosscheck/original_training.py --original=PATH/TO/supair/src \\
        --dataset=noisy_mnist --seed=2 --epochs=5 [--which=both|original|ours]

``--graphs=ours --which=ours --start=ours`` trains ours on our own region graphs of
``--seed`` (as run.py draws them) in this harness, without building the original.

Prints one line per evaluation and appends it to ``--out`` (CSV). Uses reference_check's
stand-ins for what TF 1.7 had; not run by CI; the original is never committed here.
"""

import csv
import os
import sys
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_check as rc  # noqa: E402  (its flags: original, data_dir, mnist_dir, seed)

from datasets import load_dataset  # noqa: E402
from datasets.core import SceneSet  # noqa: E402
from shared.training import make_optimizer, make_train_step  # noqa: E402
from supair_tf import PRESETS, Supair  # noqa: E402

flags.DEFINE_string('dataset', 'noisy_mnist', 'a built-in data set')
flags.DEFINE_integer('epochs', 5, 'epochs of training')
flags.DEFINE_integer('test_scenes', 2000, 'test scenes counted after every epoch')
flags.DEFINE_enum('which', 'both', ['both', 'original', 'ours'], 'what to train')
flags.DEFINE_enum('start', 'ours', ['ours', 'original'],
                  "initial parameters: ours of --seed written into both, or the original's own "
                  'initialisers (TF1 graph seed --seed) written into both')
GROUPS = ('inference', 'object_spn', 'background_spn')  # reference_check's labels' first words
flags.DEFINE_list('original_groups', list(GROUPS),
                  "with --start=original and ours trained: the parameter groups (reference_check's "
                  "labels, by their first word) ours takes from the original's start; the others "
                  'keep our initial values of --seed')
flags.DEFINE_enum('graphs', 'original', ['original', 'ours'],
                  "the SPNs' region graphs: the original's RegionGraph of --seed, or ours of "
                  '--seed as run.py draws them (--which=ours --start=ours only: the original '
                  'is then not built)')
flags.DEFINE_integer('threads', 1, 'CPU threads')
flags.DEFINE_string('out', None, 'CSV to append the evaluations to')
FLAGS = flags.FLAGS
v1 = tf.compat.v1


def build_original(config):
    """The original's graph, session and tensors, with the stand-ins of reference_check."""
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(FLAGS.seed)
        batch = config.batch_size
        rc.FedNoise.tensor = v1.placeholder(tf.float32, [batch, 3, 4])
        model_module, config_module = rc.import_original(os.path.abspath(FLAGS.original))
        original = model_module.Supair(rc.original_config(config_module, config),
                                       seed=FLAGS.seed)
        scenes = v1.placeholder(tf.float32, [batch, 50, 50, 1])
        mean_elbo = original.elbo(scenes)
        z_pres = [op for op in graph.get_operations() if op.name.endswith('z_pres')][0]
        # Trained variables: the ablation's original builds a background SPN it never uses.
        variables = [v for v, g in zip(v1.trainable_variables(), tf.gradients(
            -mean_elbo, v1.trainable_variables()), strict=True) if g is not None]
        gradients = tf.gradients(-mean_elbo, variables)
        train_op = v1.train.AdamOptimizer(config.learning_rate).minimize(-mean_elbo)
        threads = FLAGS.threads
        session = v1.Session(graph=graph, config=v1.ConfigProto(
            intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads))
        session.run(v1.global_variables_initializer())
    return original, session, dict(
        scenes=scenes, noise=rc.FedNoise.tensor, elbo=mean_elbo, z_pres=z_pres.outputs[0],
        train=train_op, per_scene=mean_elbo.op.inputs[0], variables=variables,
        gradients=gradients), graph


def original_and_ours(config):
    """The original's graph (build_original), our model on its region graphs with our
    initial values of --seed, and reference_check's parameter groups between the two;
    without a usable --original, a one-line error."""
    if not FLAGS.original or not os.path.exists(os.path.join(FLAGS.original, 'model.py')):
        sys.exit('error: pass --original=PATH, the src/ folder of a stelzner/supair checkout')
    FLAGS.batch = config.batch_size  # reference_check's original_config reads it
    original, session, tensors, graph = build_original(config)
    ours = Supair(config.replace(structure_seed=FLAGS.seed), seed=FLAGS.seed,
                  graphs=(rc.our_graph(original.obj_spn), rc.our_graph(original.bg_spn)))
    groups = rc.parameter_groups(ours, original, tensors['variables'])
    return original, session, tensors, graph, ours, groups


def accuracy(count_of, test):
    """Share of test scenes counted right, ``count_of(images) -> counts`` per batch."""
    found = np.concatenate([count_of(test.images[k:k + 256])
                            for k in range(0, len(test), 256)])
    return float(np.mean(found == test.counts))


def main(argv):
    del argv
    unknown = set(FLAGS.original_groups) - set(GROUPS)
    if unknown:
        sys.exit(f'error: --original_groups: no group {sorted(unknown)}')
    partial = set(FLAGS.original_groups) != set(GROUPS)
    if partial and FLAGS.which != 'ours':
        sys.exit('error: a partial --original_groups starts ours only: add --which=ours')
    tf.config.threading.set_intra_op_parallelism_threads(FLAGS.threads)
    tf.config.threading.set_inter_op_parallelism_threads(FLAGS.threads)
    config = PRESETS[FLAGS.dataset].replace(procedure='paper')  # the authors' training
    if FLAGS.graphs == 'ours':
        if (FLAGS.which, FLAGS.start) != ('ours', 'ours'):
            sys.exit('error: --graphs=ours trains ours from our start: add --which=ours '
                     '--start=ours')
        session = t = groups = None
        ours = Supair(config.replace(structure_seed=FLAGS.seed), seed=FLAGS.seed)
    else:
        _, session, t, _, ours, groups = original_and_ours(config)
    train, test = load_dataset(FLAGS.dataset, data_dir=FLAGS.data_dir,
                               mnist_dir=FLAGS.mnist_dir, seed=42)
    n = FLAGS.test_scenes
    test = SceneSet(test.images[:n], test.counts[:n], test.boxes[:n])
    if FLAGS.which != 'original' or FLAGS.start == 'ours':
        if FLAGS.start == 'ours':
            if session is not None:
                rc.load_into_original(groups, session)
        else:
            taken = [g for g in groups if g[0].split()[0] in FLAGS.original_groups]
            for path, share in rc.load_into_ours(taken, session).items():
                print(f"{path}: {share:.1%} of its entries from the original's start")
        our_step = make_train_step(ours, make_optimizer(ours))
    batch, steps = config.batch_size, len(train) // config.batch_size
    rng = np.random.default_rng(FLAGS.seed)
    trainers = {
        'original': lambda images: -session.run(
            [t['train'], t['elbo']], {t['scenes']: images, t['noise']: rng.standard_normal(
                [batch, 3, 4]).astype(np.float32)})[1],
        'ours': lambda images: float(our_step(images))}
    counters = {
        'original': lambda images: np.sum(session.run(t['z_pres'], {t['scenes']: np.pad(
            images, [(0, batch - len(images)), (0, 0), (0, 0), (0, 0)])})[:len(images)] >= 0.5,
            axis=1),
        'ours': lambda images: ours.detect(images).count.numpy()}
    chosen = ['original', 'ours'] if FLAGS.which == 'both' else [FLAGS.which]
    seconds = dict.fromkeys(chosen, 0.0)
    for epoch in range(FLAGS.epochs):
        elbos = {name: [] for name in chosen}
        for k in range(steps):
            images = train.images[k * batch:(k + 1) * batch]
            for name in chosen:
                began = time.time()
                elbos[name].append(-trainers[name](images))
                seconds[name] += time.time() - began
            if k % 20 == 19:
                print(f'epoch {epoch + 1} step {k + 1}/{steps}: ' + ', '.join(
                    f'{n} ELBO {elbos[n][-1]:.1f} ({seconds[n] / (epoch * steps + k + 1):.2f} '
                    's/step)' for n in chosen), flush=True)
        for name in chosen:
            start = FLAGS.start
            if start == 'original' and partial:
                start = 'original:' + '+'.join(FLAGS.original_groups)
            if FLAGS.graphs == 'ours':
                start += '+our_graphs'
            row = dict(which=name, start=start, dataset=FLAGS.dataset, seed=FLAGS.seed,
                       step=(epoch + 1) * steps, seconds=round(seconds[name], 1),
                       test_count_acc=accuracy(counters[name], test),
                       train_elbo=float(np.mean(elbos[name][-20:])))
            print(row, flush=True)
            if FLAGS.out:
                new = not os.path.exists(FLAGS.out)
                with open(FLAGS.out, 'a', newline='') as f:
                    writer = csv.DictWriter(f, list(row))
                    if new:
                        writer.writeheader()
                    writer.writerow(row)


if __name__ == '__main__':
    app.run(main)
