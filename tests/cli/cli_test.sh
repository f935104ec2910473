#!/usr/bin/env bash
# End-to-end tests of the nabla command: bad input gives one clear line and a
# non-zero exit; train -> eval -> predict -> resume works on a small subset.
# Usage: cli_test.sh PATH/TO/nabla
set -u
NABLA=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0

check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

# expect_error NAME PATTERN ARGS...: non-zero exit, one line on stderr matching PATTERN.
expect_error() {
  local name=$1 pattern=$2; shift 2
  "$NABLA" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$work/err")
  if [ "$rc" -ne 0 ] && [ "$lines" -eq 1 ] && grep -q -- "$pattern" "$work/err"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAILED: $name (rc=$rc, $lines lines)"; cat "$work/err"
  fi
}

expect_error "unknown option" "not expected: --bogus" train --bogus
expect_error "unknown subcommand" "error" fly
expect_error "non-numeric epochs" "--epochs: expected a positive number, got 'x'" train --epochs x
expect_error "negative learning rate" "--lr: expected a positive number, got -1" train --lr -1
NABLA_CPU_ISA=sse9 expect_error "unknown ISA cap" "NABLA_CPU_ISA: expected baseline, avx2 or avx512, got 'sse9'" info
expect_error "bad value" "lr" train --lr -1
expect_error "bad choice" "opt" train --opt lbfgs
expect_error "unknown model" "unknown model 'resnet9000'" train --model resnet9000 --limit-train 10
expect_error "missing data folder" "not a directory" train --data idx:/nonexistent
expect_error "unknown data kind" "unknown data set" train --data foo:bar
expect_error "missing checkpoint" "checkpoint" eval /nonexistent.ckpt
printf 'garbage' >"$work/bad.ckpt"
expect_error "corrupt checkpoint" "safetensors" eval "$work/bad.ckpt"
printf '{"epochz": 1}' >"$work/bad.json"
expect_error "bad config key" "unknown key 'epochz'" train --config "$work/bad.json"

run="$work/run"
"$NABLA" train --model mlp --epochs 1 --limit-train 3000 --limit-test 500 --out "$run" --no-progress \
  >"$work/train.out" 2>"$work/train.err"
check "train exit code" test $? -eq 0
check "train prints accuracy" grep -q "^test accuracy: 0\.[5-9]" "$work/train.out"
check "metrics.jsonl written" grep -q '"test_acc"' "$run/metrics.jsonl"
check "checkpoints written" test -f "$run/best.ckpt" -a -f "$run/last.ckpt"

"$NABLA" eval "$run/best.ckpt" --limit-test 500 >"$work/eval.out" 2>&1
check "eval runs" grep -q "^test accuracy: 0\.[5-9]" "$work/eval.out"
check "eval prints ECE" grep -q "^ECE: " "$work/eval.out"

"$NABLA" predict "$run/best.ckpt" --limit-test 500 --out "$work/pred.csv" >/dev/null 2>&1
check "predict header" test "$(head -1 "$work/pred.csv")" = "index,label,pred,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9"
check "predict rows" test "$(wc -l <"$work/pred.csv")" -eq 501

"$NABLA" export "$run/best.ckpt" --onnx "$work/mlp.onnx" >"$work/export.out" 2>&1
check "export writes ONNX" grep -q "^exported mlp (input \[1, " "$work/export.out"
check "exported graph passes onnx's full checker" /usr/bin/python3 -c \
  "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" "$work/mlp.onnx"
expect_error "export opset" "--opset: expected an opset from 13 to 17, got 12" export "$run/best.ckpt" --onnx x.onnx --opset 12
expect_error "export without --onnx" "--onnx is required" export "$run/best.ckpt"

"$NABLA" train --model mlp --epochs 2 --limit-train 3000 --limit-test 500 --out "$run" --resume "$run/last.ckpt" \
  --no-progress >"$work/resume.out" 2>"$work/resume.err"
check "resume continues" grep -q "resumed from .* after epoch 1" "$work/resume.err"
check "resume appends epoch 2" test "$(wc -l <"$run/metrics.jsonl")" -eq 2

"$NABLA" plot "$run" "$run/metrics.jsonl" --labels first,again --out "$work/curves.png" >/dev/null 2>&1
check "plot writes a PNG" test "$(head -c 8 "$work/curves.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a
"$NABLA" plot "$run" --out "$work/curves.svg" >/dev/null 2>&1
check "plot writes an SVG" grep -q "</svg>" "$work/curves.svg"
expect_error "plot of no run" "cannot read" plot "$work/none" --out "$work/x.png"
expect_error "plot to an unknown format" ".png or .svg" plot "$run" --out "$work/x.gif"

printf '{"model": "mlp", "epochs": 1, "hidden": [32], "limit_train": 1000, "limit_test": 200}' >"$work/run.json"
"$NABLA" train --config "$work/run.json" --lr 0.002 --no-progress --out "$work/cfg" >/dev/null 2>&1
check "config file and flags" grep -q '"lr":0.002' "$work/cfg/config.json"
check "config hidden sizes" grep -q '"hidden":\[32\]' "$work/cfg/config.json"

"$NABLA" models >"$work/models.out" 2>&1
check "models lists the zoo" grep -q "^wrn-16-4 *2748602 " "$work/models.out"
check "models counts parameters" grep -q "^resnet20 *272186 " "$work/models.out"
"$NABLA" summary --model resnet18 --input 3,224,224 --classes 1000 >"$work/summary.out" 2>&1
check "summary totals" grep -q "^parameters: 11,689,512 " "$work/summary.out"
check "summary FLOPs" grep -q "3.64 GFLOPs" "$work/summary.out"
check "summary layer rows" grep -q "^layer4.1.conv2 (Conv2d) *\[1, 512, 7, 7\] *2,359,296 " "$work/summary.out"
expect_error "summary bad input" "--input: expected positive sizes" summary --model resnet20 --input 3,x,32
expect_error "summary input too small" "too small" summary --model unet --input 1,4,4

"$NABLA" bench lstm --steps 1 --warmup 0 >"$work/bench.out" 2>&1
check "bench lstm" grep -q '"workload":"lstm".*\|"sample_unit":"tokens"' "$work/bench.out"
check "bench lstm model size" grep -q '"params":886880' "$work/bench.out"

seg="$work/seg"
"$NABLA" train --model unet --epochs 1 --limit-train 300 --limit-test 100 --batch-size 50 --out "$seg" --no-progress \
  >"$work/seg.out" 2>&1
check "segmentation trains" grep -q "^test mean IoU: 0\.[4-9]" "$work/seg.out"
check "segmentation metrics" grep -q '"test_miou"' "$seg/metrics.jsonl"
"$NABLA" eval "$seg/best.ckpt" --limit-test 100 >"$work/seg_eval.out" 2>&1
check "segmentation eval" grep -q "^test mean IoU: " "$work/seg_eval.out"
expect_error "segmentation predict" "use \`nabla eval\`" predict "$seg/best.ckpt" --limit-test 10 --out "$work/p.csv"
expect_error "segmentation augmentation" "mask" train --model unet --epochs 1 --limit-train 50 --hflip
expect_error "bad seg spec" "fashion-mnist-seg" train --model unet --data fashion-mnist-seg:x --limit-train 10

# Language models: train on a text file, evaluate, generate, and refuse what does not apply.
txt="$work/lm"
mkdir -p "$txt"
for i in $(seq 60); do printf 'the quick brown fox jumps over the lazy dog. ' >>"$txt/fox.txt"; done
"$NABLA" train --model char-gru --data "text:$txt/fox.txt" --hidden 48 --epochs 4 --batch-size 8 --bptt 32 \
  --lr 0.01 --out "$txt/run" --no-progress >"$work/lm.out" 2>&1
check "text trains" grep -q "^validation loss: [0-9.]* nats per character (perplexity" "$work/lm.out"
check "text metrics" grep -q '"test_bpc".*"test_ppl"' "$txt/run/metrics.jsonl"
"$NABLA" eval "$txt/run/best.ckpt" >"$work/lm_eval.out" 2>&1
check "text eval" grep -q "^bits per character: " "$work/lm_eval.out"
"$NABLA" generate "$txt/run/best.ckpt" --prompt "the quick" --length 40 --temperature 0 >"$work/gen.out" 2>&1
check "generate continues the prompt" grep -q "^the quick brown" "$work/gen.out"
check "generate length" test "$(head -c 49 "$work/gen.out" | wc -c)" -eq 49
"$NABLA" generate "$txt/run/best.ckpt" --length 30 --top-k 3 --seed 5 >"$work/gen1.out" 2>&1
"$NABLA" generate "$txt/run/best.ckpt" --length 30 --top-k 3 --seed 5 >"$work/gen2.out" 2>&1
check "generate is seeded" cmp -s "$work/gen1.out" "$work/gen2.out"
expect_error "generate unknown character" "'Z' (byte offset 0) is not in the vocabulary" \
  generate "$txt/run/best.ckpt" --prompt "Zebra"
expect_error "generate image model" "not a language model" generate "$seg/best.ckpt"
expect_error "generate negative temperature" "temperature" generate "$txt/run/best.ckpt" --temperature -1
expect_error "text predict" "nabla generate" predict "$txt/run/best.ckpt" --out "$work/p.csv"
expect_error "text with image model" "trains a language model" train --model mlp --data "text:$txt/fox.txt"
expect_error "language model on images" "train it on text" train --model char-lstm --data fashion-mnist --limit-train 10
expect_error "missing text" "does not exist" train --model char-lstm --data text:/nonexistent.txt
expect_error "text augmentation" "do not apply" train --model char-gru --data "text:$txt/fox.txt" --hflip

# Pruning: the report, the files, masks that eval and --resume keep, the baked weights loadable plainly.
pr="$work/pruned"
"$NABLA" prune "$run/best.ckpt" --method global --sparsity 0.75 --finetune-epochs 1 --limit-train 3000 \
  --limit-test 500 --out "$pr" --no-progress >"$work/prune.out" 2>&1
check "prune exit code" test $? -eq 0
check "prune reports sparsity" grep -q "75.00% of the prunable weights zero" "$work/prune.out"
check "prune reports accuracy" grep -q "^test accuracy: 0\.[5-9][0-9]* before, 0\.[0-9]* pruned, 0\.[5-9][0-9]* after" "$work/prune.out"
check "prune writes its files" test -f "$pr/pruned.ckpt" -a -f "$pr/model.safetensors" -a -f "$pr/prune.json"
"$NABLA" eval "$pr/pruned.ckpt" --limit-test 500 >"$work/peval.out" 2>&1
check "eval of a pruned checkpoint" grep -q "^test accuracy: 0\.[5-9]" "$work/peval.out"
"$NABLA" eval --model mlp --weights "$pr/model.safetensors" --data fashion-mnist --limit-test 500 >"$work/pbaked.out" 2>&1
check "baked weights load into a plain model" grep -q "^test accuracy: 0\.[5-9]" "$work/pbaked.out"
"$NABLA" train --model mlp --epochs 2 --limit-train 3000 --limit-test 500 --resume "$pr/pruned.ckpt" --out "$pr/more" \
  --no-progress >"$work/presume.out" 2>&1
check "resume of a pruned checkpoint" test $? -eq 0
"$NABLA" prune "$pr/more/last.ckpt" --sparsity 0.75 --limit-test 500 --out "$pr/again" --no-progress \
  >"$work/pagain.out" 2>&1
check "the mask held through resumed training" grep -q "75.00% of the prunable weights zero" "$work/pagain.out"
"$NABLA" prune "$run/best.ckpt" --method nm --n 2 --m 4 --limit-test 200 --out "$work/nm" >"$work/nm.out" 2>&1
check "prune 2:4" grep -q "50.00% of the prunable weights zero" "$work/nm.out"
expect_error "prune unknown method" "method" prune "$run/best.ckpt" --method best --out "$work/x"
expect_error "prune sparsity out of range" "sparsity" prune "$run/best.ckpt" --sparsity 1.5 --out "$work/x"
expect_error "prune without --out" "out" prune "$run/best.ckpt"
"$NABLA" plot "$pr/prune.json" "$work/nm/prune.json" --x sparsity --y accuracy_after --out "$work/sp.svg" >/dev/null 2>&1
check "plot y against x" grep -q "</svg>" "$work/sp.svg"
expect_error "plot of a missing key" "no line with numbers" plot "$pr/prune.json" --x sparsity --y nothing \
  --out "$work/x.png"

"$NABLA" lottery --model mlp --rounds 2 --epochs 1 --limit-train 2000 --limit-test 300 --out "$work/lt" \
  >"$work/lt.out" 2>&1
check "lottery runs its rounds" test "$(wc -l <"$work/lt/lottery.jsonl")" -eq 3
check "lottery draws its curve" test -f "$work/lt/lottery.png"
check "lottery prints the control" grep -q "^ *2 *64.00% *0\.[0-9]* *0\.[0-9]" "$work/lt.out"
expect_error "lottery rate" "rate" lottery --rate 0 --out "$work/x"

# Distillation: a student taught by the trained run's checkpoint; a teacher of other classes is refused.
"$NABLA" train --model mlp --hidden 64 --epochs 1 --limit-train 3000 --limit-test 500 --teacher "$run/best.ckpt" \
  --kd-temperature 3 --kd-alpha 0.7 --no-progress --out "$work/kd" >"$work/kd.out" 2>&1
check "distillation runs" grep -q "^test accuracy: 0\.[5-9]" "$work/kd.out"
check "distillation says so" grep -q "distilling from .*best.ckpt (temperature 3, soft-target weight 0.7)" "$work/kd.out"
check "distillation is in the run's config" grep -q '"kd_alpha":0.7' "$work/kd/config.json"
expect_error "distillation alpha" "kd-alpha" train --teacher "$run/best.ckpt" --kd-alpha 2
expect_error "teacher of the wrong inputs" "--teacher" train --model mlp --data fashion-mnist-seg --teacher "$run/best.ckpt" \
  --limit-train 50 --limit-test 20

# Low rank: SVD-factorized layers that eval rebuilds; LoRA adapters on a frozen base, merged back.
"$NABLA" compress "$run/best.ckpt" --rank 8 --limit-test 500 --out "$work/lr" --no-progress >"$work/lr.out" 2>&1
check "compress reports the layers" grep -q "^[0-9.]* *Linear *8 of " "$work/lr.out"
check "compress reports parameters" grep -q "^compressed: [0-9]* -> [0-9]* parameters" "$work/lr.out"
check "compress reports speed" grep -q "^inference: .* examples/s .* batch-1 latency" "$work/lr.out"
"$NABLA" eval "$work/lr/compressed.ckpt" --limit-test 500 >"$work/lreval.out" 2>&1
check "eval of a factorized checkpoint" grep -q "^test accuracy: 0\.[3-9]" "$work/lreval.out"
expect_error "compress needs one mode" "one of --rank" compress "$run/best.ckpt" --rank 2 --energy 0.5 --out "$work/x"
expect_error "merge without adapters" "no LoRA adapters" compress "$run/best.ckpt" --merge-lora --out "$work/x"
"$NABLA" train --model mlp --epochs 1 --limit-train 3000 --limit-test 500 --lora 4 --weights "$run/best.ckpt" \
  --out "$work/lora" --no-progress >"$work/lora.out" 2>&1
check "lora trains the adapters only" grep -q "^LoRA rank 4 (alpha 16): [0-9]* of the [0-9]* parameters train" \
  "$work/lora.out"
check "lora accuracy" grep -q "^test accuracy: 0\.[5-9]" "$work/lora.out"
"$NABLA" compress "$work/lora/best.ckpt" --merge-lora --limit-test 500 --out "$work/merged" --no-progress \
  >"$work/merged.out" 2>&1
check "lora merges" grep -q "^merged [0-9]* LoRA adapters" "$work/merged.out"
check "merged weights are plain" test -z "$(grep -a -o 'lora_A' "$work/merged/model.safetensors" | head -1)"
expect_error "lora needs a base" "trained base" train --model mlp --lora 4 --limit-train 100 --limit-test 50

# Structured pruning that shrinks a LeNet: fewer FLOPs, a smaller checkpoint that eval and --resume rebuild.
"$NABLA" train --model lenet --epochs 1 --limit-train 1000 --limit-test 300 --out "$work/ln" --no-progress \
  >/dev/null 2>&1
"$NABLA" prune "$work/ln/best.ckpt" --method structured --shrink --sparsity 0.5 --limit-train 1000 --limit-test 300 \
  --out "$work/shr" --no-progress >"$work/shr.out" 2>&1
check "shrink removes channels" grep -q "^shrunk 3: 64 -> 32 channels" "$work/shr.out"
check "shrink reports FLOPs" grep -q "^shrunk: [0-9]* -> [0-9]* parameters, .* FLOPs per example" "$work/shr.out"
"$NABLA" eval "$work/shr/pruned.ckpt" --limit-test 300 >"$work/shreval.out" 2>&1
check "eval of a shrunk checkpoint" grep -q "^test accuracy: 0\.[0-9]" "$work/shreval.out"
"$NABLA" train --model lenet --epochs 1 --limit-train 500 --limit-test 100 --resume "$work/shr/pruned.ckpt" \
  --out "$work/shr2" --no-progress >/dev/null 2>&1
check "resume of a shrunk checkpoint" test -f "$work/shr2/last.ckpt"
expect_error "shrink needs structured" "--method structured" prune "$work/ln/best.ckpt" --shrink --out "$work/x"
# int8: a LeNet quantized from calibration batches, its checkpoint evaluated.
"$NABLA" quantize "$work/ln/best.ckpt" --calib-batches 2 --limit-train 1000 --limit-test 300 --out "$work/q" \
  >"$work/q.out" 2>&1
check "quantize reports accuracy" grep -q "^test accuracy: 0\.[0-9]* f32, 0\.[0-9]* int8" "$work/q.out"
check "quantize reports size" grep -q "^model bytes: [0-9]* -> [0-9]* (3\.[0-9]*x smaller)" "$work/q.out"
"$NABLA" eval "$work/q/quantized.ckpt" --limit-test 300 >"$work/qeval.out" 2>&1
check "eval of an int8 checkpoint" grep -q "^test accuracy: 0\.[0-9]" "$work/qeval.out"
"$NABLA" quantize "$work/ln/best.ckpt" --qat-epochs 1 --calib-batches 2 --limit-train 500 --limit-test 200 \
  --out "$work/qat" --no-progress >"$work/qat.out" 2>&1
check "quantization-aware training" grep -q "^quantization-aware training: 1 epochs, test accuracy 0\.[0-9]" "$work/qat.out"
check "qat then int8" grep -q "^test accuracy: 0\.[0-9]* f32, 0\.[0-9]* int8" "$work/qat.out"
expect_error "quantize twice" "quantized already" quantize "$work/q/quantized.ckpt" --out "$work/x"
expect_error "quantize observer" "observer" quantize "$work/ln/best.ckpt" --observer best --out "$work/x"
# Sparse inference: the pruned MLP's layers through the CSR kernel.
"$NABLA" train --model mlp --hidden 512,256 --epochs 1 --limit-train 1000 --limit-test 100 --out "$work/m512" \
  --no-progress >/dev/null 2>&1
"$NABLA" prune "$work/m512/best.ckpt" --sparsity 0.9 --limit-test 100 --out "$work/m512p" --no-progress >/dev/null 2>&1
"$NABLA" bench infer_mlp --runs 50 --sparse on --weights "$work/m512p/model.safetensors" >"$work/sp.out" 2>&1
check "bench runs the pruned layers sparse" grep -q '"sparse_layers":3' "$work/sp.out"
"$NABLA" bench infer_mlp --runs 50 --sparse off --weights "$work/m512p/model.safetensors" >"$work/sp0.out" 2>&1
check "bench --sparse off" grep -q '"sparse_layers":0' "$work/sp0.out"

# Time series: ROCKET and MiniRocket fit in one pass, their checkpoints evaluated and predicted.
"$NABLA" train --model rocket --kernels 500 --data synthetic-control --out "$work/rk" >"$work/rk.out" 2>&1
check "rocket trains" grep -q "^test accuracy: 0\.9[5-9]" "$work/rk.out"
check "rocket reports ridge's alpha" grep -q "^ridge: alpha" "$work/rk.out"
check "rocket metrics" grep -q '"classifier":"ridge"' "$work/rk/metrics.jsonl"
"$NABLA" eval "$work/rk/best.ckpt" >"$work/rkeval.out" 2>&1
check "eval of a rocket checkpoint" grep -q "^test accuracy: 0\.9[5-9]" "$work/rkeval.out"
"$NABLA" train --model minirocket --kernels 840 --data cbf --classifier logistic --epochs 30 --lr 0.01 --batch-size 16 \
  --out "$work/mr" >"$work/mr.out" 2>&1
check "minirocket with a logistic read-out" grep -q "^test accuracy: 0\.[89]" "$work/mr.out"
"$NABLA" predict "$work/mr/best.ckpt" --out "$work/mr.csv" >/dev/null 2>&1
check "predict with a minirocket checkpoint" test "$(wc -l <"$work/mr.csv")" -eq 901
"$NABLA" models >"$work/models.out" 2>&1
check "models lists the time-series zoo" grep -q "^minirocket" "$work/models.out"
expect_error "rocket on images" "fashion-mnist-series" train --model rocket --data fashion-mnist --limit-train 10 --limit-test 10
expect_error "classifier choice" "classifier" train --model rocket --data cbf --classifier svm
expect_error "series seed" "non-negative integer seed" train --model rocket --data cbf:-1

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
