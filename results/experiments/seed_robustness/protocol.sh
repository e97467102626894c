#!/usr/bin/env bash
# The paper's protocol (issue 23) from the frozen checkout /root/frozen/new (290069f), one run
# per call of its benchmarks/reproduce.sh, in the order given; one thread each.
cd /root/frozen/new
for name in "$@"; do
  ONLY="$name" THREADS=1 RUNS=/root/supair_runs/s10/protocol MNIST_DIR=/work/shared/mnist \
    bash benchmarks/reproduce.sh
done
