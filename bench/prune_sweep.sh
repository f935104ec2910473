#!/usr/bin/env bash
# Accuracy against sparsity of a trained classifier: global against layer-wise
# magnitude pruning, each fine-tuned, as in docs/RESULTS.md.
# Usage: bench/prune_sweep.sh NABLA CHECKPOINT OUT_DIR FINETUNE_EPOCHS [SPARSITY...]
#   (default sparsities 0.5 0.8 0.9 0.95 0.98; env PRUNE_FLAGS: more `nabla prune` flags, e.g. "--lr 0.01")
# Writes OUT_DIR/<method>-<sparsity>/ (nabla prune's output), OUT_DIR/<method>.jsonl
# (one prune.json per line), OUT_DIR/sparsity.png and prints a markdown table.
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n 2,8p "$0" >&2
  exit 2
fi
nabla=$1 ckpt=$2 out=$3 epochs=$4
shift 4
sparsities=${*:-0.5 0.8 0.9 0.95 0.98}
mkdir -p "$out"
for method in global magnitude; do
  : >"$out/$method.jsonl"
  for s in $sparsities; do
    "$nabla" prune "$ckpt" --method "$method" --sparsity "$s" --finetune-epochs "$epochs" --out "$out/$method-$s" \
      ${PRUNE_FLAGS:-} --no-progress >"$out/$method-$s.log" 2>&1 || { cat "$out/$method-$s.log" >&2; exit 1; }
    cat "$out/$method-$s/prune.json" >>"$out/$method.jsonl"
  done
done
"$nabla" plot "$out/global.jsonl" "$out/magnitude.jsonl" --labels "global,layer-wise" --x sparsity \
  --y accuracy_after --out "$out/sparsity.png" >/dev/null
/usr/bin/python3 - "$out" $sparsities <<'PY'
import json, sys
out, sparsities = sys.argv[1], sys.argv[2:]
rows = {m: [json.loads(l) for l in open(f"{out}/{m}.jsonl")] for m in ("global", "magnitude")}
dense = rows["global"][0]["accuracy_before"]
print(f"| sparsity | global, pruned | global, fine-tuned | layer-wise, pruned | layer-wise, fine-tuned |")
print("|---|---|---|---|---|")
print(f"| 0 (dense) | {dense:.4f} | | | |")
for g, m in zip(rows["global"], rows["magnitude"]):
    print(f"| {100 * g['sparsity']:.0f} % | {g['accuracy_pruned']:.4f} | **{g['accuracy_after']:.4f}** | "
          f"{m['accuracy_pruned']:.4f} | **{m['accuracy_after']:.4f}** |")
PY
