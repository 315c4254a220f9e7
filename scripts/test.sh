#!/usr/bin/env bash
# README command 2: every module's tests (unit, conformance suite for every registered variant,
# golden files from PyTorch+PEFT, MiniLM vs ONNX Runtime). Needs only a JDK 17 and Maven.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# OpenBLAS kernel from the CPU's flags (OpenBLAS 0.3.19 misdetects newer CPUs)
. "$ROOT/scripts/blas-env.sh"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset: OpenBLAS detects>}"
exec mvn -B -ntp verify "$@"
