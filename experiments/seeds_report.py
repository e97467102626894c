"""The paper's protocol over seeds: Table 2 as mean +- std, Fig. 5 as mean +- std bands.

    python experiments/seeds_report.py [--results=results] [--out=docs/seeds]

Reads the runs' own metrics.csv files, `results/<dataset>_seed<k>_metrics.csv` (and
`<dataset>_nobg_seed<k>_...` for the ablations); prints Table 2 in Markdown beside the
paper's SuPAIR and AIR columns and draws the learning curves (test count accuracy)
against training seconds and against steps, with the paper's time windows marked.
Needs matplotlib (requirements-bench.txt).
"""

import argparse
import csv
import glob
import os
import re

import numpy as np

DATASETS = {  # name: (title, paper SuPAIR accuracy, AIR accuracy, paper ELBO, Fig. 5 window s)
    'mnist': ('Multi-MNIST', 98.3, 94.7, 4923, 380),
    'sprites': ('Sprites', 99.2, 95.9, 5022, 250),
    'noisy_mnist': ('Noisy-MNIST', 93.8, 0.0, 1047, 450),
    'grid_mnist': ('Grid-MNIST', 97.5, 0.0, 3564, 450),
}
# A run "works" above this final count accuracy (the protocol's bar).
WORKS = {'noisy_mnist': 0.88}


def read_runs(results, dataset, variant=''):
    """``{seed: rows}`` of the runs of one data set (variant '' or '_nobg')."""
    runs = {}
    for path in glob.glob(os.path.join(results, f'{dataset}{variant}_seed*_metrics.csv')):
        match = re.search(rf'{dataset}{variant}_seed(\d+)_metrics\.csv$', path)
        if match:
            with open(path) as f:
                rows = list(csv.DictReader(f))
            runs[int(match.group(1))] = {k: np.array([float(r[k]) for r in rows])
                                         for k in ('step', 'train_seconds', 'test_count_acc',
                                                   'elbo')}
    return runs


def table(results, epochs_steps):
    """Table 2 in Markdown, finished runs only (their last step is the 20th epoch's)."""
    lines = ['| data set | runs | count accuracy mean +- std | min | runs >= bar | ELBO mean '
             '+- std | paper SuPAIR | paper AIR | paper ELBO |', '|---' * 9 + '|']
    for name, (title, paper, air, paper_elbo, _) in DATASETS.items():
        runs = {s: r for s, r in read_runs(results, name).items()
                if r['step'][-1] >= epochs_steps.get(name, 0)}
        if not runs:
            continue
        acc = np.array([100 * r['test_count_acc'][-1] for r in runs.values()])
        elbo = np.array([r['elbo'][-1] for r in runs.values()])
        bar = WORKS.get(name, 0.90)
        works = sum(a >= 100 * bar for a in acc)
        lines.append(f'| {title} | {len(runs)} (seeds {",".join(map(str, sorted(runs)))}) | '
                     f'{acc.mean():.1f} +- {acc.std(ddof=1) if len(acc) > 1 else 0:.1f}% | '
                     f'{acc.min():.1f}% | {works} of {len(runs)} (>= {100 * bar:.0f}%) | '
                     f'{elbo.mean():,.0f} +- {elbo.std(ddof=1) if len(elbo) > 1 else 0:,.0f} | '
                     f'{paper}% | {air}% | {paper_elbo:,} |')
    return '\n'.join(lines)


def per_seed(results, epochs_steps, variant=''):
    """Final count accuracy and ELBO of every run, one row per data set, in Markdown;
    a run short of its last step shows where it stands (``(at step N)``)."""
    lines, seeds = [], set()
    for name, (title, *_) in DATASETS.items():
        runs = read_runs(results, name, variant)
        if not runs:
            continue
        seeds |= set(runs)
        cells = {}
        for seed, r in runs.items():
            short = r['step'][-1] < epochs_steps.get(name, 0)
            cells[seed] = (f"{100 * r['test_count_acc'][-1]:.1f}% ({r['elbo'][-1]:,.0f})"
                           + (f" (at step {int(r['step'][-1])})" if short else ''))
        lines.append((title, cells))
    seeds = sorted(seeds)
    head = '| data set | ' + ' | '.join(f'seed {s}' for s in seeds) + ' |'
    rows = [f'| {title}{" without a background model" if variant else ""} | '
            + ' | '.join(cells.get(s, '-') for s in seeds) + ' |'
            for title, cells in lines]
    return '\n'.join([head, '|---' * (len(seeds) + 1) + '|'] + rows)


def band(runs, x_key):
    """Mean x, mean and std of the accuracy at the evaluation steps all runs share."""
    shared = sorted(set.intersection(*(set(r['step']) for r in runs.values())))
    picked = [{k: r[k][np.isin(r['step'], shared)] for k in r} for r in runs.values()]
    x = np.mean([p[x_key] for p in picked], axis=0)
    acc = np.array([p['test_count_acc'] for p in picked])
    return x, acc.mean(0), acc.std(0)


def figure(results, out):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    for x_key, label in (('train_seconds', 'training seconds'), ('step', 'steps')):
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), sharey=True)
        for ax, (name, (title, _, _, _, window)) in zip(axes, DATASETS.items(), strict=True):
            for variant, style in (('', '-'), ('_nobg', '--')):
                runs = read_runs(results, name, variant)
                if not runs:
                    continue
                x, mean, std = band(runs, x_key)
                tag = 'no background model' if variant else 'SuPAIR'
                runs_word = 'run' if len(runs) == 1 else 'runs'
                line, = ax.plot(x, mean, style, label=f'{tag} ({len(runs)} {runs_word})')
                ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
            if x_key == 'train_seconds':
                ax.axvline(window, color='grey', lw=0.8, ls=':')
                ax.text(window, 0.02, f' paper: {window} s', color='grey', fontsize=8)
            ax.set_title(title)
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8, loc='lower right')
        axes[0].set_ylabel('test count accuracy')
        axes[0].set_ylim(0, 1)
        fig.tight_layout()
        path = f'{out}_{"seconds" if x_key == "train_seconds" else "steps"}.png'
        fig.savefig(path, dpi=110)
        print('wrote', path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--results', default='results')
    parser.add_argument('--out', default='docs/seeds')
    args = parser.parse_args()
    # 20 epochs: 3,120 steps on Sprites (156 a epoch), 4,680 on the MNIST sets (234).
    finished = {'sprites': 3120, 'mnist': 4680, 'noisy_mnist': 4680, 'grid_mnist': 4680}
    print(table(args.results, finished))
    print('\nFinal test count accuracy (test ELBO) per seed:\n')
    print(per_seed(args.results, finished))
    print('\nWithout a background model:\n')
    print(per_seed(args.results, finished, '_nobg'))
    figure(args.results, args.out)


if __name__ == '__main__':
    main()
