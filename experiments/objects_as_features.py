"""Objects as features (Eslami et al. 2016, Fig. 7): what a model trained without labels
found in scenes of two digits, fed to a small supervised classifier, against a CNN on the
raw scene given the same labels.

    python experiments/objects_as_features.py --model supair=RUN/saved_model \
        --model air=RUN/saved_model [--mnist_dir=../shared/mnist] [--out=docs/features]

Two-digit scenes are composed from the MNIST *test* digits (never seen in training) as
Multi-MNIST's are, with each digit's label kept. Two tasks: the sum of the two digits (19
classes) and whether they appear in increasing order from left to right (2 classes; equal
digits are not increasing). Each SavedModel's ``detect`` gives the representation: its two
most present steps, ordered left to right by their boxes; AIR and DAIR give each object's
z_what and z_where, SuPAIR (no object code) each object's window, the scene inside its
box resized to 28 x 28, and its box. An MLP (one hidden layer of 256) learns each task
from 10, 100, 1,000 and 10,000 labelled scenes; the CNN (two 5x5 convolutions of 32 and
64 channels with 2x2 pooling, then 256 units) learns from the scenes themselves. Accuracy
on 5,000 other scenes, three seeds of each classifier; a Markdown table and a figure.
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datasets import scenes  # noqa: E402
from datasets.mnist import load_mnist_digits, read_idx  # noqa: E402

WINDOW = 28  # side of SuPAIR's object windows, as the digits' own size
TASKS = {'sum': 19, 'order': 2}


def labelled_scenes(mnist_dir, n, seed):
    """``n`` scenes of exactly two test digits ``[n, 50, 50, 1]``, their boxes and the two
    digits' labels ``[n, 2]`` in the order they were drawn."""
    digits = load_mnist_digits(os.path.join(mnist_dir, 't10k-images-idx3-ubyte.gz'))
    labels = read_idx(os.path.join(mnist_dir, 't10k-labels-idx1-ubyte.gz'))
    which = np.full([n, 2], -1)
    images, counts, boxes = scenes.multi_mnist(digits, n, np.random.default_rng(seed),
                                               allowed=(2,), which=which)
    assert (counts == 2).all() and (which >= 0).all()
    return images[..., None], boxes, labels[which].astype(np.int64)


def task_labels(digit_labels, boxes):
    """``{'sum': [n], 'order': [n]}`` from the digits' labels and true boxes: the sum, and
    1 where the left digit (by its box's left edge) is smaller than the right one."""
    left_first = boxes[:, 0, 1] <= boxes[:, 1, 1]
    left = np.where(left_first, digit_labels[:, 0], digit_labels[:, 1])
    right = np.where(left_first, digit_labels[:, 1], digit_labels[:, 0])
    return {'sum': left + right, 'order': (left < right).astype(np.int64)}


def windows(images, boxes):
    """The scene inside each box ``[n, k, 4]`` (y0, x0, y1, x1), resized to WINDOW^2 by
    bilinear sampling (zeros outside the scene): ``[n, k, WINDOW * WINDOW]``."""
    n, k = boxes.shape[:2]
    height, width = images.shape[1:3]
    grid = (np.arange(WINDOW) + 0.5) / WINDOW
    out = np.zeros([n, k, WINDOW, WINDOW], np.float32)
    padded = np.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]])
    for j in range(k):
        y0, x0, y1, x1 = (boxes[:, j, c, None] for c in range(4))
        ys = y0 + (y1 - y0) * grid[None] - 0.5 + 1     # pixel rows in the padded scene
        xs = x0 + (x1 - x0) * grid[None] - 0.5 + 1
        ys = np.clip(ys, 0, height + 1 - 1e-4)
        xs = np.clip(xs, 0, width + 1 - 1e-4)
        r0, c0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
        r1, c1 = np.minimum(r0 + 1, height + 1), np.minimum(c0 + 1, width + 1)
        fy, fx = (ys - r0)[:, :, None], (xs - c0)[:, None, :]
        out[:, j] = ((1 - fy) * ((1 - fx) * _at(padded, r0, c0) + fx * _at(padded, r0, c1))
                     + fy * ((1 - fx) * _at(padded, r1, c0) + fx * _at(padded, r1, c1)))
    return out.reshape(n, k, -1)


def _at(images, rows, cols):
    """``images[i, rows[i, a], cols[i, b]]`` ``[n, a, b]``."""
    return images[np.arange(len(images))[:, None, None], rows[:, :, None], cols[:, None, :]]


def take_steps(array, order):
    """The steps ``order [n, m]`` of ``array [n, k, ...]``."""
    return np.take_along_axis(array, order.reshape(order.shape + (1,) * (array.ndim - 2)),
                              axis=1)


def representation(saved_model, images, batch=500):
    """A model's features of each scene ``[n, F]``: its two most present steps, left to
    right; per object z_what and z_where (AIR, DAIR) or window and box (SuPAIR)."""
    import tensorflow as tf
    model = tf.saved_model.load(saved_model)
    parts = []
    for start in range(0, len(images), batch):
        out = {k: v.numpy() for k, v in model.detect(images[start:start + batch]).items()}
        order = np.argsort(-out['z_pres'], axis=1, kind='stable')[:, :2]
        left_first = np.argsort(take_steps(out['boxes'], order)[:, :, 1], axis=1,
                                kind='stable')
        order = np.take_along_axis(order, left_first, axis=1)
        boxes = take_steps(out['boxes'], order)
        if 'z_what' in out:
            objects = np.concatenate([take_steps(out['z_what'], order),
                                      take_steps(out['z_where'], order)], axis=-1)
        else:
            objects = np.concatenate([windows(images[start:start + batch], boxes),
                                      boxes / images.shape[1]], axis=-1)
        parts.append(objects.reshape(len(objects), -1))
    return np.concatenate(parts).astype(np.float32)


def classifier(inputs, classes, seed, cnn=False):
    """The supervised learner: an MLP on features, or the CNN on scenes."""
    import keras
    keras.utils.set_random_seed(seed)
    layers = [keras.Input(inputs)]
    if cnn:
        layers += [keras.layers.Conv2D(32, 5, activation='relu'), keras.layers.MaxPooling2D(),
                   keras.layers.Conv2D(64, 5, activation='relu'), keras.layers.MaxPooling2D(),
                   keras.layers.Flatten()]
    else:
        layers += [keras.layers.Normalization()]
    layers += [keras.layers.Dense(256, activation='relu'), keras.layers.Dense(classes)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=['accuracy'],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def accuracy(train_x, train_y, test_x, test_y, classes, seed, cnn=False):
    """Test accuracy of a classifier trained on ``train_x`` (about 2,000 updates of
    batches of up to 32, whatever the number of labels, so small sets are not under-
    trained)."""
    model = classifier(train_x.shape[1:], classes, seed, cnn)
    if not cnn:
        model.layers[0].adapt(train_x)
    batch = min(32, len(train_x))
    epochs = max(5, int(np.ceil(2000 / np.ceil(len(train_x) / batch))))
    model.fit(train_x, train_y, batch_size=batch, epochs=min(epochs, 400), verbose=0)
    return float(model.evaluate(test_x, test_y, verbose=0, batch_size=500)[1])


def study(features, images, labels, sizes, test, seeds, saved=None):
    """``{(learner, task, labels): [accuracy per seed]}``; learners: each model's
    features, and 'CNN' on the scenes. With ``saved`` (a JSON path), each entry is written
    there as it is measured and the entries already there are kept, so a study that was
    stopped goes on where it stopped."""
    results = read_results(saved) if saved and os.path.exists(saved) else {}
    inputs = {**features, 'CNN': images}
    for learner, x in inputs.items():
        for task, classes in TASKS.items():
            y = labels[task]
            for size in sizes:
                if len(results.get((learner, task, size), [])) == seeds:
                    continue
                results[(learner, task, size)] = [
                    accuracy(x[test:test + size], y[test:test + size], x[:test], y[:test],
                             classes, seed, cnn=learner == 'CNN') for seed in range(seeds)]
                if saved:
                    write_results(results, saved)
    return results


def write_results(results, path):
    """``results`` as JSON, ``{"learner/task/labels": [accuracy per seed]}`` (atomically)."""
    with open(path + '.tmp', 'w') as f:
        json.dump({f'{a}/{t}/{s}': v for (a, t, s), v in results.items()}, f, indent=1)
    os.replace(path + '.tmp', path)


def read_results(path):
    """What write_results wrote."""
    with open(path) as f:
        return {(a, t, int(s)): v for key, v in json.load(f).items()
                for a, t, s in [key.rsplit('/', 2)]}


def table(results, sizes):
    """Markdown: accuracy (mean +- std over seeds, %) per learner, task and labels."""
    head = '| learner | task | ' + ' | '.join(f'{s:,} labels' for s in sizes) + ' |'
    lines = [head, '|---|---|' + '---|' * len(sizes)]
    for learner, task in sorted({(a, t) for a, t, _ in results}, key=lambda k: (k[1], k[0])):
        cells = [f'{100 * np.mean(results[(learner, task, s)]):.1f} +- '
                 f'{100 * np.std(results[(learner, task, s)]):.1f}' for s in sizes]
        lines.append(f'| {learner} | {task} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def figure(results, sizes, out):
    """Accuracy against labelled scenes, one panel per task (``out``.png)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 4))
    for ax, task in zip(axes, TASKS, strict=True):
        for learner in sorted({a for a, _, _ in results}):
            means = [np.mean(results[(learner, task, s)]) for s in sizes]
            ax.plot(sizes, means, 'o-', label=learner)
        ax.set(xscale='log', title=f'{task} of two digits', xlabel='labelled scenes',
               ylabel='test accuracy', ylim=(0, 1.01))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out + '.png', dpi=110)
    return out + '.png'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', action='append', required=True,
                        help='NAME=SAVED_MODEL_DIR (repeatable)')
    parser.add_argument('--mnist_dir', default='../shared/mnist')
    parser.add_argument('--labels', default='10,100,1000,10000')
    parser.add_argument('--test', type=int, default=5000)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--scene_seed', type=int, default=7)
    parser.add_argument('--out', default='docs/features')
    parser.add_argument('--threads', type=int, default=0, help='TensorFlow threads (0: all)')
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    sizes = [int(s) for s in args.labels.split(',')]
    models = dict(m.split('=', 1) for m in args.model)
    images, boxes, digit_labels = labelled_scenes(args.mnist_dir, args.test + max(sizes),
                                                  args.scene_seed)
    labels = task_labels(digit_labels, boxes)
    features = {name: representation(path, images) for name, path in models.items()}
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    results = study(features, images, labels, sizes, args.test, args.seeds,
                    saved=args.out + '.json')
    print(table(results, sizes))
    print(f'figure: {figure(results, sizes, args.out)}')


if __name__ == '__main__':
    main()
