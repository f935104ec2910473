#!/usr/bin/env bash
# Data parallelism on one machine: samples/s of 1 rank x T threads against T ranks x 1 thread (the same global
# batch), with each distributed run's per-step backward time, the all-reduce wait left after backward and the
# span of the buckets' all-reduces (metrics.jsonl); then gradient bucket sizes for one model, and all-reduce times
# by message size (bench/allreduce.cpp). One JSON line per run. Needs a build with MPI.
#   bench/dist.sh [OUT.jsonl] [RANKS]   (default /tmp/dist.jsonl, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/dist.jsonl}
ranks=${2:-2}
nabla=${NABLA:-build/release/nabla}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: >"$out"

# model, global batch, extra flags
runs=(
  "mlp 128 --limit-train 60000 --epochs 2"
  "resnet20 128 --limit-train 6400 --limit-test 1000 --epochs 2"
  "gpt 32 --limit-train 300000 --limit-test 20000 --epochs 2"
)

last_epoch() {  # the last epoch's line (the first includes warm-up: primitives, bucket order)
  tail -n 1 "$1/metrics.jsonl"
}

report() {  # label, ranks, threads, bucket, run folder
  local line
  line=$(last_epoch "$5")
  /usr/bin/python3 - "$1" "$2" "$3" "$4" "$line" <<'PY' | tee -a "$out"
import json, sys
label, ranks, threads, bucket, line = sys.argv[1:]
m = json.loads(line)
r = {"model": label, "ranks": int(ranks), "threads": int(threads), "bucket_mb": float(bucket),
     "samples_per_s": round(m["samples_per_s"], 1)}
for k in ("step_backward_s", "step_comm_wait_s", "step_peer_wait_s", "step_comm_exposed_s", "step_comm_span_s",
          "launched_in_backward", "completed_in_backward"):
    if k in m:
        r[k] = round(m[k], 6)
print(json.dumps(r))
PY
}

for spec in "${runs[@]}"; do
  read -r model batch rest <<<"$spec"
  # shellcheck disable=SC2206
  extra=($rest)
  "$nabla" train --model "$model" --batch-size "$batch" --threads "$ranks" "${extra[@]}" --no-progress \
    --out "$work/one-$model" >"$work/log" 2>&1
  report "$model" 1 "$ranks" 0 "$work/one-$model"
  mpirun -np "$ranks" "$nabla" train --model "$model" --batch-size $((batch / ranks)) "${extra[@]}" --no-progress \
    --out "$work/dist-$model" >"$work/log" 2>&1
  report "$model" "$ranks" 1 0.25 "$work/dist-$model"
done

# Bucket sizes: resnet20's 1.1 MB of gradients in 1 to ~20 buckets.
for mb in 0.05 0.25 1 25; do
  mpirun -np "$ranks" "$nabla" train --model resnet20 --batch-size $((128 / ranks)) --limit-train 6400 \
    --limit-test 1000 --epochs 2 --bucket-mb "$mb" --no-progress --out "$work/bucket-$mb" >"$work/log" 2>&1
  report resnet20 "$ranks" 1 "$mb" "$work/bucket-$mb"
done

mpirun -np "$ranks" build/release/bench/nabla_allreduce | tee -a "$out"
