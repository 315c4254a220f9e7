#!/usr/bin/env bash
# README command 2: every module's tests (unit, conformance suite for every registered variant,
# golden files from PyTorch+PEFT, MiniLM vs ONNX Runtime; the golden files and conformance suite
# once more in the portable engine), then checks that the CUDA build compiles
# (scripts/cuda-build.sh; LORA_SKIP_CUDA_BUILD=1 skips it). Needs only a JDK 17 and Maven.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# OpenBLAS kernel from the CPU's flags (OpenBLAS 0.3.19 misdetects newer CPUs)
. "$ROOT/scripts/blas-env.sh"
# One OpenMP thread unless told otherwise: on 2-core machines ND4J's eager ops and SameDiff steps
# ran 2-4x faster single-threaded (TrainingStepBenchmark, width 1024: LoRA step 315 -> 83 ms).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset: OpenBLAS detects>}"
mvn -B -ntp verify "$@"
if [ "${LORA_SKIP_CUDA_BUILD:-0}" != 1 ]; then
  "$ROOT/scripts/cuda-build.sh"
fi
