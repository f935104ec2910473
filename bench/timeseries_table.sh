#!/usr/bin/env bash
# Accuracy and times of ROCKET, MiniRocket, FCN and ResNet on the synthetic archive
# sets and fashion-mnist-series: one JSON line per (model, data) with the test
# accuracy and the seconds of training and of the test split (the docs/RESULTS.md table).
#   bench/timeseries_table.sh [OUT.jsonl] [EPOCHS]   (EPOCHS of the deep models; default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/timeseries_table.jsonl}
epochs=${2:-50}
nabla=${NABLA:-build/release/nabla}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$out"
for data in cbf synthetic-control two-patterns; do
  for model in rocket minirocket fcn resnet-ts; do
    extra=()
    case $model in fcn|resnet-ts) extra=(--epochs "$epochs") ;; esac
    start=$(date +%s.%N)
    "$nabla" train --model "$model" --data "$data" "${extra[@]}" --no-progress --out "$work/$model-$data" \
      >"$work/log" 2>&1
    end=$(date +%s.%N)
    t0=$(date +%s.%N)
    "$nabla" eval "$work/$model-$data/last.ckpt" >"$work/eval" 2>&1
    t1=$(date +%s.%N)
    acc=$(sed -n 's/^test accuracy: //p' "$work/eval")
    printf '{"model":"%s","data":"%s","test_acc":%s,"train_s":%.2f,"eval_s":%.2f,"epochs":%s}\n' "$model" "$data" \
      "$acc" "$(awk "BEGIN{print $end - $start}")" "$(awk "BEGIN{print $t1 - $t0}")" \
      "$([ ${#extra[@]} -gt 0 ] && echo "$epochs" || echo 0)" | tee -a "$out"
  done
done
