"""Test count accuracy at one step for runs of several configurations over seeds: the
Markdown tables of RESULTS.md's short sweeps (issue 23).

    python experiments/sweep_table.py --folder=results/experiments/seed_robustness/order_sweep \
        --step=1170 --bar=0.9 grid_mnist_fixed grid_mnist_shuffled

Reads ``<folder>/<configuration>_seed<k>_metrics.csv`` (a run's metrics.csv) for every
configuration named (a configuration with a slash is a path prefix of its own, e.g.
``results/grid_mnist_paper`` for the protocol's runs of the authors' procedure; ``a+b``
joins two sources' seeds); a run that has not reached ``--step`` shows '-'. Prints one row
per configuration: the accuracy per seed, how many seeds are below ``--bar`` and the mean
over the seeds that reached it.
"""

import argparse
import csv
import glob
import os
import re


def accuracy_at(path, step):
    """Test count accuracy (%) of the metrics.csv row at ``step``, or None."""
    with open(path) as f:
        for row in csv.DictReader(f):
            if int(row['step']) == step:
                return 100 * float(row['test_count_acc'])
    return None


def sweep(folder, configuration, step):
    """``{seed: accuracy or None}`` of one configuration's runs."""
    if '/' in configuration:
        folder, configuration = os.path.split(configuration)
    found = {}
    for path in glob.glob(os.path.join(folder, f'{configuration}_seed*_metrics.csv')):
        match = re.search(rf'{re.escape(configuration)}_seed(\d+)_metrics\.csv$', path)
        if match:
            found[int(match.group(1))] = accuracy_at(path, step)
    return found


def joined(folder, configuration, step):
    """``sweep`` of every '+'-joined source, the earlier source winning a seed."""
    found = {}
    for source in reversed(configuration.split('+')):
        found.update(sweep(folder, source, step))
    return found


def table(folder, configurations, step, bar):
    runs = {c: joined(folder, c, step) for c in configurations}
    seeds = sorted(set().union(*runs.values()))
    lines = [f'| configuration | {" | ".join(map(str, seeds))} | below {100 * bar:.0f}% | mean |',
             '|---' * (len(seeds) + 3) + '|']
    for name, found in runs.items():
        done = [a for a in found.values() if a is not None]
        cells = ['-' if found.get(s) is None else f'{found[s]:.1f}' for s in seeds]
        below = sum(a < 100 * bar for a in done)
        mean = f'{sum(done) / len(done):.1f}' if done else '-'
        lines.append(f'| {name} | {" | ".join(cells)} | {below} of {len(done)} | {mean} |')
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--folder', default='.')
    parser.add_argument('--step', type=int, required=True)
    parser.add_argument('--bar', type=float, default=0.9)
    parser.add_argument('configurations', nargs='+')
    args = parser.parse_args()
    if not os.path.isdir(args.folder):
        raise SystemExit(f'sweep_table: no folder {args.folder}')
    print(table(args.folder, args.configurations, args.step, args.bar))


if __name__ == '__main__':
    main()
