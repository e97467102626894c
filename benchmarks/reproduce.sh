#!/usr/bin/env bash
# The paper's protocol (five runs per data set, ablations), one run after another.
# Every run resumes from its checkpoint, so running this again continues where it stopped.
#   RUNS=/path/to/runs MNIST_DIR=../shared/mnist bash benchmarks/reproduce.sh
# ONLY="name ..." runs just those (e.g. two queues side by side, THREADS=1 each);
# run names are those of the results files: sprites_seed3, grid_mnist_nobg_seed1, ...
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs}
MNIST_DIR=${MNIST_DIR:-../shared/mnist}
THREADS=${THREADS:-2}
ONLY=${ONLY:-}
mkdir -p "$RUNS"
run() {  # name, flags...
  local name=$1; shift
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
  echo "== $name: python run.py $* (started $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD))"
  python run.py --run_dir="$RUNS/$name" --mnist_dir="$MNIST_DIR" --threads="$THREADS" "$@" \
    >> "$RUNS/$name.log" 2>&1
  echo "== $name: exit $? ($(date -u +%FT%TZ))"
}
DATASETS="sprites mnist noisy_mnist grid_mnist"
for seed in 0 1 2 3 4; do
  for dataset in $DATASETS; do
    run "${dataset}_seed$seed" --dataset="$dataset" --seed="$seed"
  done
done
for seed in 0 1 2; do
  for dataset in noisy_mnist grid_mnist; do
    run "${dataset}_nobg_seed$seed" --dataset="$dataset" --seed="$seed" --nobackground_model
  done
done
for dataset in mnist sprites; do
  run "${dataset}_nobg_seed0" --dataset="$dataset" --nobackground_model
done
run mnist_pd_seed0 --dataset=mnist --structure=poon_domingos
