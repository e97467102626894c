#!/usr/bin/env bash
# The paper's protocol (issue 23) from a frozen checkout (the protocol ran at 290069f), one run
# per call of its experiments/reproduce.sh, in the order given; one thread each.
#   TREE=/path/to/frozen/checkout RUNS=/path/to/runs bash experiments/protocol.sh mnist_seed0 ...
cd "${TREE:?a frozen checkout}"
for name in "$@"; do
  ONLY="$name" THREADS=1 RUNS="${RUNS:?where the runs go}" MNIST_DIR="${MNIST_DIR:-../shared/mnist}" \
    bash experiments/reproduce.sh
done
