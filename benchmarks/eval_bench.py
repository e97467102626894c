"""Where one test evaluation's time goes: counting, the ELBO, box IoU (the housekeeping of a run).

    python benchmarks/eval_bench.py [--dataset=sprites] [--repeats=5] [--mnist_dir=DIR]
                                    [--detect_batches=2500,500]

Times, on the data set's test split and a model at initialisation (the cost does not
depend on the weights), the three parts of ``shared.evaluation.evaluate``: detecting
every test scene, the ELBO of the first 1,024, and the box IoU of the detected boxes
(vectorised), interleaved; prints medians and shares. A run evaluates 4 times an epoch in
its first 5 epochs and once an epoch after.
Detection is timed at each of ``--detect_batches`` (scenes per call); the shares use the
first, the batch size ``evaluate`` uses.
"""

import argparse

from common import interleaved_medians, np
from datasets import load_dataset
from shared.evaluation import scene_iou
from supair_tf import PRESETS, Supair


def main():
    """Prints the median seconds of each part of one evaluation."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--dataset', default='sprites')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--mnist_dir', default=None)
    parser.add_argument('--detect_batches', default='2500,500')
    args = parser.parse_args()
    _, test = load_dataset(args.dataset, mnist_dir=args.mnist_dir)
    model = Supair(PRESETS[args.dataset], seed=0)
    found = {}

    def detect(batch):
        outs = [model.detect(test.images[s:s + batch]) for s in range(0, len(test), batch)]
        found['boxes'] = np.concatenate([o.boxes.numpy() for o in outs])
        found['present'] = np.concatenate([o.z_pres.numpy() >= 0.5 for o in outs])

    def elbo():
        for s in range(0, 1024, 256):
            model.elbo(test.images[s:s + 256]).numpy()

    def iou():
        # Presence as the true counts, so that every scene with objects is matched.
        present = np.arange(found['boxes'].shape[1])[None] < test.counts[:, None]
        scene_iou(found['boxes'], present, test.boxes, test.counts)

    batches = [int(b) for b in args.detect_batches.split(',')]
    parts = {f'detect {b}': (lambda b=b: detect(b)) for b in batches}
    parts[f'detect {batches[0]}']()
    parts.update(elbo=elbo, iou=iou)
    medians = interleaved_medians(parts, args.repeats)
    shares = {name: medians[name] for name in (f'detect {batches[0]}', 'elbo', 'iou')}
    total = sum(shares.values())
    print(f'one evaluation of {args.dataset} ({len(test):,} test scenes): {total:.2f} s')
    for name, seconds in medians.items():
        share = f'{100 * seconds / total:5.1f}%' if name in shares else ''
        print(f'  {name:12s} {seconds:7.3f} s  {share}')


if __name__ == '__main__':
    main()
