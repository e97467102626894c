#!/usr/bin/env bash
# Sprites, 5 epochs, one thread: one queue of (config, seed) pairs, each resuming if killed.
#   a: today's code before the fix (c09f14e)    b: init fix alone (--structure_seed=0 --data_order=shuffled)
#   c: init fix with the original's procedure (defaults of 290069f)
#   OLD=/path/to/c09f14e NEW=/path/to/290069f OUT=/path/to/runs bash experiments/sweep.sh a_0 c_3 ...
OUT=${OUT:?where the runs go}
mkdir -p $OUT
for item in "$@"; do
  cfg=${item%_*}; seed=${item#*_}
  case $cfg in
    a) tree=${OLD:?}; extra="";;
    b) tree=${NEW:?}; extra="--structure_seed=0 --data_order=shuffled";;
    c) tree=${NEW:?}; extra="";;
  esac
  echo "== ${cfg}_seed$seed start $(date -u +%FT%TZ) commit $(git -C $tree rev-parse --short HEAD)"
  (cd $tree && python run.py --dataset=sprites --seed=$seed --epochs=5 --evals_per_epoch=1 \
     --threads=1 --run_dir=$OUT/${cfg}_seed$seed $extra >> $OUT/${cfg}_seed$seed.log 2>&1)
  echo "== ${cfg}_seed$seed exit $? $(date -u +%FT%TZ)"
done
