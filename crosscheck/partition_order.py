"""Are the harness's region graphs (the original's RegionGraph of --seed, read back through
reference_check.our_graph) and run.py's (ours, structure_seed = --seed) the same?

Prints, per data set, seed and SPN: whether the two have the same regions, the same
partitions of every region, and the same partitions in the same order (a region's sum
weights are laid out partition by partition, so another order puts other initial
weights on each product).

    python crosscheck/partition_order.py \
        --original=/root/orig/src --dataset=grid_mnist --seeds=1,3 --mnist_dir=/work/shared/mnist

Builds the original's graph (reference_check's stand-ins), never trains it; not run by CI.
"""

import os
import sys

from absl import app, flags

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import original_training as ot  # noqa: E402  (its flags: original, dataset, seed, ...)
import reference_check as rc  # noqa: E402

from supair_tf import PRESETS, Supair  # noqa: E402

flags.DEFINE_list('seeds', ['1', '3'], 'graph seeds to compare')
FLAGS = flags.FLAGS


def compare(theirs, ours):
    """(same regions, same partitions per region, same order of them) of two RegionGraphs."""
    regions = theirs.regions == ours.regions
    split = [r for r in ours.regions if ours.partitions_of(r)]
    same_sets = regions and all(
        set(theirs.partitions_of(r)) == set(ours.partitions_of(r)) for r in split)
    reordered = sum(theirs.partitions_of(r) != ours.partitions_of(r) for r in split)
    return regions, same_sets, same_sets and not reordered, reordered, len(split)


def main(argv):
    """Compares the two region graphs of every seed, per SPN."""
    del argv
    config = PRESETS[FLAGS.dataset].replace(procedure='paper')  # the authors' training
    FLAGS.batch = config.batch_size
    for seed in map(int, FLAGS.seeds):
        FLAGS.seed = seed
        original, session, _, _ = ot.build_original(config)
        session.close()
        ours = Supair(config.replace(structure_seed=seed), seed=seed)  # as run.py builds it
        for name, spn, layer in (('object', original.obj_spn, ours.object_spn),
                                 ('background', original.bg_spn, ours.background_spn)):
            regions, sets, order, reordered, split = compare(
                rc.our_graph(spn), layer.region_graph)
            print(f'{FLAGS.dataset} seed {seed} {name} SPN: same regions {regions}, same '
                  f'partitions {sets}, same order {order} ({reordered} of {split} split '
                  'regions list their partitions in another order)', flush=True)


if __name__ == '__main__':
    app.run(main)
