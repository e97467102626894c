#!/usr/bin/env bash
# The paper's experiments (issue "Reproduce the paper"), one after the other.
# Every run resumes from its checkpoint, so running this again continues where it stopped.
#   RUNS=/path/to/runs MNIST_DIR=../shared/mnist bash benchmarks/reproduce.sh
# ONLY="name ..." runs just those (e.g. two queues side by side, THREADS=1 each).
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
  echo "== $name: python run.py $* (started $(date -u +%FT%TZ))"
  python run.py --run_dir="$RUNS/$name" --mnist_dir="$MNIST_DIR" --threads="$THREADS" "$@" \
    >> "$RUNS/$name.log" 2>&1
  echo "== $name: exit $? ($(date -u +%FT%TZ))"
}
run sprites_seed0 --dataset=sprites
run mnist_seed0 --dataset=mnist
run noisy_mnist_seed0 --dataset=noisy_mnist
run grid_mnist_seed0 --dataset=grid_mnist
run noisy_mnist_nobg_seed0 --dataset=noisy_mnist --nobackground_model
run grid_mnist_nobg_seed0 --dataset=grid_mnist --nobackground_model
run mnist_pd_seed0 --dataset=mnist --structure=poon_domingos
run mnist_nobg_seed0 --dataset=mnist --nobackground_model
run sprites_nobg_seed0 --dataset=sprites --nobackground_model
