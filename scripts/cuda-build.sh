#!/usr/bin/env bash
# Checks that the CUDA build compiles, so the `cuda` Maven profile cannot rot unnoticed: -Pcuda
# swaps ND4J's CPU backend (nd4j-native) for nd4j-cuda-11.6 and compiles the main and test
# sources of every module the lora command is made of. No GPU is needed to compile; the first
# run downloads ~600 MB of CUDA backend jars from Maven Central. The profile builds into
# target-cuda/, apart from the CPU build's target/. scripts/test.sh runs this after the tests.
# Measured on a shared 2-core machine: 2 min 43 s with an empty local Maven repository (all
# downloads included), 2 min 17 s into an empty target-cuda/ with the jars already in ~/.m2,
# 17 s when nothing changed. A GPU machine runs scripts/gpu-smoke.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)
mvn -B -ntp -q -Pcuda test-compile -pl lora-bench -am "$@"
echo "cuda-build: -Pcuda test-compile of lora-core, lora-variants, lora-eval, lora-bench: OK in $(( $(date +%s) - start )) s"
