#!/usr/bin/env bash
# Grid-MNIST, 5 epochs, one thread: which of the three changes turns the Grid-MNIST seeds
# that learned before the fix (1 and 3) into failures. One queue of (config, seed) pairs,
# from the frozen checkout of 290069f; each run resumes if killed.
#   b: init fix alone (--structure_seed=0 --data_order=shuffled)
#   s: init fix, own structure per seed, shuffled order (--data_order=shuffled)
#   f: init fix, one structure, fixed order (--structure_seed=0)
#   (c, all three, is the protocol's run; a, before the fix, results/experiments/before_issue23)
#   TREE=/path/to/frozen/checkout OUT=/path/to/runs bash experiments/grid_sweep.sh b_1 s_3 ...
OUT=${OUT:?where the runs go}
tree=${TREE:?a frozen checkout}
MNIST_DIR=${MNIST_DIR:-../shared/mnist}
mkdir -p $OUT
for item in "$@"; do
  cfg=${item%_*}; seed=${item#*_}
  case $cfg in
    b) extra="--structure_seed=0 --data_order=shuffled";;
    s) extra="--data_order=shuffled";;
    f) extra="--structure_seed=0";;
  esac
  echo "== ${cfg}_seed$seed start $(date -u +%FT%TZ)"
  (cd $tree && python run.py --dataset=grid_mnist --seed=$seed --epochs=5 --evals_per_epoch=1 \
     --threads=1 --mnist_dir="$MNIST_DIR" --run_dir=$OUT/${cfg}_seed$seed $extra \
     >> $OUT/${cfg}_seed$seed.log 2>&1)
  echo "== ${cfg}_seed$seed exit $? $(date -u +%FT%TZ)"
done
