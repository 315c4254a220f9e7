#!/usr/bin/env bash
# The first thing to run on a machine with an NVIDIA GPU (docs/gpu.md: what it needs and what it
# should print). Steps:
#   1. the GPU and driver as nvidia-smi sees them (if it is installed);
#   2. the CUDA build: mvn -Pcuda package of the lora command -> lora-bench/target-cuda/lora.jar;
#   3. `lora --version` on it: ND4J's backend (CUDA), the engine (portable) and the devices it sees;
#   4. one forward pass and five LoRA training steps of a small random Llama (4 x 512) on the GPU;
#   5. the PEFT golden comparison (the golden-file tests, run on the CUDA backend);
#   6. the same LoRA step on the CPU build, and the ratio of the step times.
# Exits non-zero at the first failing step. SMOKE_BATCH / SMOKE_SEQ change the step's shape
# (default 8 x 128); SMOKE_SKIP_CPU=1 skips step 6.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BATCH="${SMOKE_BATCH:-8}"
SEQ="${SMOKE_SEQ:-128}"
CUDA_JAR="$ROOT/lora-bench/target-cuda/lora.jar" # -Pcuda builds into target-cuda/
say() { printf '\n== %s\n' "$*"; }

say "1/6 GPU"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader || nvidia-smi
  nvidia-smi | sed -n 's/.*\(CUDA Version: [0-9.]*\).*/\1 (the newest the driver supports)/p' | head -1
else
  echo "nvidia-smi not found: no NVIDIA driver on this machine? (ND4J will say the same below)"
fi

say "2/6 CUDA build (mvn -Pcuda package; ~600 MB of ND4J CUDA jars on first use)"
start=$(date +%s)
mvn -q -B -ntp -Pcuda -DskipTests package -pl lora-bench -am
echo "built $CUDA_JAR in $(( $(date +%s) - start )) s"

say "3/6 backend, engine, devices"
LORA_JAR="$CUDA_JAR" ./lora --version

bench() { # jar (empty: the CPU build), mode, steps; prints the bench line, returns the median
  local jar="$1" mode="$2" steps="$3" line
  line=$(LORA_JAR="$jar" ./lora bench step --arch llama --mode "$mode" --batch "$BATCH" --seq "$SEQ" \
      --rank 8 --warmup 1 --steps "$steps" --json)
  echo "$line" >&2
  sed -n 's/.*"step_ms_median":\([0-9.]*\).*/\1/p' <<<"$line"
}

say "4/6 one forward pass and five LoRA steps, Llama 4 x 512, batch $BATCH x $SEQ, on the GPU"
bench "$CUDA_JAR" forward 1 >/dev/null
gpu_ms=$(bench "$CUDA_JAR" lora 5)
echo "GPU LoRA step: median $gpu_ms ms"

say "5/6 PEFT golden files on the CUDA backend"
mvn -B -ntp -Pcuda test -pl lora-core -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest='PeftAdapterGoldenTest,BaseModelGoldenTest,BertGoldenTest' | grep -E '^golden|Tests run:|BUILD|ERROR'

if [ "${SMOKE_SKIP_CPU:-0}" = 1 ]; then
  exit 0
fi
say "6/6 the same LoRA step on the CPU build (optimized engine)"
cpu_ms=$(bench "" lora 5) # ./lora builds the CPU jar (lora-bench/target/lora.jar) if needed
echo "CPU LoRA step: median $cpu_ms ms"
awk -v g="$gpu_ms" -v c="$cpu_ms" 'BEGIN { printf "GPU / CPU step time: %.2f (below 1: the GPU is faster)\n", g / c }'
