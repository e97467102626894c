#!/usr/bin/env bash
# Noisy-MNIST and Grid-MNIST with the initialisation fix and a structure of their own per
# seed, in either data order (ORDER=shuffled: a new order every epoch; ORDER=fixed: the
# stored order, the original's): does the order decide which seeds fail? One queue of
# (data set, seed) pairs, one thread each, from a frozen checkout; every run resumes from
# its checkpoint, so EPOCHS=20 continues a 5-epoch run into a protocol-length run.
#   TREE=/path/to/frozen/checkout OUT=/path/to/runs ORDER=fixed EPOCHS=5 \
#     bash order_sweep.sh grid_mnist_1 noisy_mnist_3 ...
# EXTRA adds flags and TAG names them in the run's name (e.g. EXTRA=--data_seed=43 TAG=data43).
set -u
OUT=${OUT:?where the runs go}
TREE=${TREE:?a frozen checkout}
EPOCHS=${EPOCHS:-5}
ORDER=${ORDER:-shuffled}
EXTRA=${EXTRA:-}
TAG=${TAG:+_$TAG}
MNIST_DIR=${MNIST_DIR:-../shared/mnist}
mkdir -p "$OUT"
for item in "$@"; do
  dataset=${item%_*}; seed=${item##*_}; name=${dataset}_${ORDER}${TAG}_seed$seed
  echo "== $name to epoch $EPOCHS start $(date -u +%FT%TZ)"
  (cd "$TREE" && python run.py --dataset="$dataset" --seed="$seed" --epochs="$EPOCHS" \
     --data_order="$ORDER" --threads=1 --mnist_dir="$MNIST_DIR" --run_dir="$OUT/$name" $EXTRA \
     >> "$OUT/$name.log" 2>&1)
  echo "== $name exit $? $(date -u +%FT%TZ)"
done
