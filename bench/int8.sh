#!/usr/bin/env bash
# int8 against f32 and against PyTorch 1.13's own int8, side by side in one run:
# for each checkpoint, REPS alternating repetitions of `nabla quantize` (its f32
# and int8 inference speed on the test split) and bench/torch_int8.py (the same
# weights, preprocessing and calibration batches in PyTorch, f32 and int8 on
# the onednn engine). Prints a markdown table of medians.
# Usage: bench/int8.sh NABLA OUT_DIR REPS CHECKPOINT... (env: THREADS, default 2;
#   anything else in the environment, e.g. NABLA_CPU_ISA / DNNL_MAX_CPU_ISA, reaches both)
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n 2,9p "$0" >&2
  exit 2
fi
nabla=$1 out=$2 reps=$3
shift 3
threads=${THREADS:-2}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
: >"$out/nabla.jsonl"
: >"$out/torch.jsonl"
for ckpt in "$@"; do
  for r in $(seq 1 "$reps"); do
    OMP_NUM_THREADS=$threads "$nabla" quantize "$ckpt" --out "$out/q" >"$out/quantize.log" 2>&1 ||
      { cat "$out/quantize.log" >&2; exit 1; }
    cat "$out/q/quantize.json" >>"$out/nabla.jsonl"
    /usr/bin/python3 "$here/torch_int8.py" "$ckpt" --threads "$threads" >>"$out/torch.jsonl"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
out = sys.argv[1]
nab, tor = {}, {}
for line in open(f"{out}/nabla.jsonl"):
    j = json.loads(line)
    nab.setdefault(j["model"], []).append(j)
for line in open(f"{out}/torch.jsonl"):
    j = json.loads(line)
    tor.setdefault(j["model"], []).append(j)
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| model | acc f32 / nabla int8 / torch int8 | batch-128 ex/s: nabla f32, nabla int8, torch f32, torch int8 "
      "| nabla int8 / f32 | nabla int8 / torch int8 | batch-1 ms: nabla f32, nabla int8, torch int8 |")
print("|---|---|---|---|---|---|")
for m, runs in nab.items():
    nf, ni = med([r["throughput_before"] for r in runs]), med([r["throughput_after"] for r in runs])
    lf, li = med([r["latency_ms_before"] for r in runs]), med([r["latency_ms_after"] for r in runs])
    tf = med([r["throughput_batch128"] for r in tor.get(f"{m}-f32", [])])
    ti = med([r["throughput_batch128"] for r in tor.get(f"{m}-int8", [])])
    tl = [r["latency_ms_batch1"] for r in tor.get(f"{m}-int8", []) if r["latency_ms_batch1"] is not None]
    tacc = med([r["test_acc"] for r in tor.get(f"{m}-int8", [])])
    tls = f"{med(tl):.3f}" if tl else "fails"
    print(f"| {m} | {runs[0]['accuracy_before']:.4f} / {runs[0]['accuracy_after']:.4f} / {tacc:.4f} "
          f"| {nf:,.0f}, {ni:,.0f}, {tf:,.0f}, {ti:,.0f} | {ni / nf:.2f}x | {ni / ti:.2f}x "
          f"| {lf:.3f}, {li:.3f}, {tls} |")
PY
