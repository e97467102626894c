#!/usr/bin/env bash
# Copies each protocol run's metrics.csv and settings.json out of its run folder (and, for
# the many-object runs, its model card): a run that trained all its epochs into results/,
# one still short of them into results/experiments/seed_robustness/protocol/ (AIR's:
# results/experiments/air/partial/).
#   RUNS=/path/to/protocol/runs bash experiments/collect.sh
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:?the folder holding the protocol run folders}
for dir in "$RUNS"/*/; do
  name=$(basename "$dir")
  [ -f "$dir/metrics.csv" ] || continue
  # A run's length comes from its own settings and the data set's definition of its size.
  done_steps=$(python -c "import json, sys; from datasets.core import scene_counts
s = json.load(open(sys.argv[1])); c = s['config']
print(c['epochs'] * (s['steps_per_epoch'] or scene_counts(s['dataset'], s.get('scenes'))[0] // c['batch_size']))" "$dir/settings.json")
  last=$(tail -n 1 "$dir/metrics.csv" | cut -d, -f2)
  partial=results/experiments/seed_robustness/protocol
  [[ $name == air_* ]] && partial=results/experiments/air/partial
  [[ $name == *_extrapolate_* || $name == *_interpolate_* ]] && \
    partial=results/experiments/generalisation/partial
  many=0; [[ $name =~ _max[0-9]+_s[0-9]+_seed ]] && many=1
  [ $many = 1 ] && partial=results/experiments/many_objects/partial
  if [ "$last" = "$done_steps" ]; then target=results; rm -f "$partial/${name}_"*
  else target=$partial; mkdir -p "$partial"; fi
  cp "$dir/metrics.csv" "$target/${name}_metrics.csv"
  cp "$dir/settings.json" "$target/${name}_settings.json"
  # Many objects: the final evaluation's confusion matrix, for the count error per count.
  card="$dir/saved_model/assets.extra/model_card.json"
  [ $many = 1 ] && [ -f "$card" ] && cp "$card" "$target/${name}_card.json"
  echo "$name: step $last of $done_steps -> $target"
done
