"""How a training step's time and memory grow with the objects a model can find (N_max) and
with the canvas, SuPAIR and AIR in one run (issue 53).

    python benchmarks/scale_bench.py [--steps=1,2,3,4,5,7,10] [--sizes=50,64,80,100,128]
                                     [--batch=32] [--repeats=5] [--figure=docs/scale.png]

Two sweeps per model: N_max over ``--steps`` on the paper's 50 x 50 canvas, and the canvas
side over ``--sizes`` with N_max 3. Each point is measured in a fresh process (its peak
resident set size is that point's alone): the Multi-MNIST preset with the point's shape,
its compiled training step (XLA, as run.py trains) on random sparse scenes of ``--batch``,
the median of ``--repeats`` steps after two warm-ups, and the process's peak RSS (and its
part above the peak the imports reached: the model's, 0 for a model smaller than that).
Prints a table and the fitted exponents (least squares on log-log: time ~ N_max^a,
time ~ pixels^b, and the same of the model's memory),
and with ``--figure`` draws both sweeps on log-log axes (needs requirements-bench.txt).
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def measure_one(model, steps, size, batch, repeats):
    """Step median (s) and peak RSS (MiB) of one point, in this process."""
    import resource  # noqa: I001  (common must come first: it puts the project on the path)

    from common import interleaved_medians, tf

    import models  # noqa: F401  (registers the kinds of model)
    from air_tf import PRESETS as AIR_PRESETS
    from air_tf import Air
    from shared.training import make_optimizers, make_train_step
    from supair_tf import PRESETS, Supair

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux

    before = peak_mib()   # TensorFlow and the code imported, no model yet
    kind, presets = (Supair, PRESETS) if model == 'supair' else (Air, AIR_PRESETS)
    config = presets['mnist'].replace(steps=steps, scene_height=size, scene_width=size,
                                      batch_size=batch)
    net = kind(config)
    step = make_train_step(net, make_optimizers(net))
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (batch, size, size, 1)) * (rng.uniform(size=(batch, size, size,
                                                                             1)) < 0.1)
    images = tf.constant(images, tf.float32)
    seconds = interleaved_medians({'step': lambda: float(step(images))}, repeats)['step']
    return {'model': model, 'steps': steps, 'size': size, 'seconds': seconds,
            'rss_mib': peak_mib(), 'model_mib': peak_mib() - before}


def measure(model, steps, size, batch, repeats):
    """One point in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, f'--one={model},{steps},{size}', f'--batch={batch}',
         f'--repeats={repeats}'], capture_output=True, text=True, cwd=HERE, timeout=1800)
    if done.returncode:
        raise RuntimeError(f'{model} N_max={steps} {size}x{size}: {done.stderr[-800:]}')
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(x, y):
    """The slope of log y against log x (least squares)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def draw(points, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for model, marker in (('supair', 'o'), ('air', 's')):
        by_steps = [p for p in points if p['model'] == model and p['sweep'] == 'steps']
        by_size = [p for p in points if p['model'] == model and p['sweep'] == 'size']
        label = 'SuPAIR' if model == 'supair' else 'AIR'
        axes[0].loglog([p['steps'] for p in by_steps], [1e3 * p['seconds'] for p in by_steps],
                       marker=marker, label=label)
        axes[1].loglog([p['size'] ** 2 for p in by_size], [1e3 * p['seconds'] for p in by_size],
                       marker=marker, label=label)
    axes[0].set(xlabel='N_max (50 x 50 canvas)', ylabel='training step, ms')
    axes[1].set(xlabel='pixels (N_max 3)', ylabel='training step, ms')
    for ax in axes:
        ax.legend()
        ax.grid(True, which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f'figure: {path}')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', default='1,2,3,4,5,7,10')
    parser.add_argument('--sizes', default='50,64,80,100,128')
    parser.add_argument('--models', default='supair,air')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--figure', default=None)
    parser.add_argument('--one', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        model, steps, size = args.one.split(',')
        print(json.dumps(measure_one(model, int(steps), int(size), args.batch, args.repeats)))
        return
    steps = [int(n) for n in args.steps.split(',')]
    sizes = [int(n) for n in args.sizes.split(',')]
    points = []
    print(f'batch {args.batch}, medians of {args.repeats}, threads '
          f'{os.environ.get("BENCH_THREADS", 2)}')
    print('model  | N_max | canvas  | step ms | peak RSS MiB | of it, the model\'s')
    for model in args.models.split(','):
        for sweep, shapes in (('steps', [(n, 50) for n in steps]),
                              ('size', [(3, s) for s in sizes])):
            for n, size in shapes:
                point = {**measure(model, n, size, args.batch, args.repeats), 'sweep': sweep}
                points.append(point)
                print(f'{model:6s} | {n:5d} | {size:3d}x{size:<3d} | '
                      f'{1e3 * point["seconds"]:7.1f} | {point["rss_mib"]:12.0f} | '
                      f'{point["model_mib"]:8.0f}', flush=True)
        for sweep, key, name in (('steps', 'steps', 'N_max'), ('size', 'size', 'pixels')):
            chosen = [p for p in points if p['model'] == model and p['sweep'] == sweep]
            x = [p[key] ** (2 if key == 'size' else 1) for p in chosen]
            time_fit = exponent(x, [p['seconds'] for p in chosen])
            memory_fit = exponent(x, [max(p['model_mib'], 1.0) for p in chosen])
            print(f'{model}: step time ~ {name}^{time_fit:.2f}, the model\'s memory (peak RSS '
                  f'above the imports) ~ {name}^{memory_fit:.2f}')
    if args.figure:
        draw(points, args.figure)


if __name__ == '__main__':
    main()
