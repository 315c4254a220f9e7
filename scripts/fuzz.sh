#!/usr/bin/env bash
# Runs every fuzz target in fuzzing mode (Jazzer, coverage-guided) for SECONDS each (default
# 300) and prints the executions and findings per target. `mvn verify` (CI) only replays each
# target's seed corpus (src/test/resources/<package>/<Class>Inputs/<method>/).
#
#   scripts/fuzz.sh [SECONDS] [TARGET-REGEX]     e.g. scripts/fuzz.sh 60 'Onnx|Sweep' 
#
# A finding stops its target: Jazzer writes the input as crash-<sha1> into the module directory
# (copy it into the target's Inputs/ directory to keep it as a regression seed). The corpus each
# run grows is kept in <module>/.cifuzz-corpus/ (not committed) and reused by the next run.
# Heap 1 GiB: an input that needs more (an unbounded allocation) is an OutOfMemoryError finding;
# an input that takes over 10 s is reported as a slow input (a hang risk).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. "$ROOT/scripts/blas-env.sh"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
SECONDS_PER_TARGET="${1:-300}"
FILTER="${2:-}"

# module  test-class#method
TARGETS=(
  "lora-core dev.loraj.core.io.SafetensorsFuzzTest#header"
  "lora-core dev.loraj.core.io.SafetensorsFuzzTest#file"
  "lora-core dev.loraj.core.io.ShardedCheckpointFuzzTest#index"
  "lora-core dev.loraj.core.checkpoint.PeftAdapterConfigFuzzTest#config"
  "lora-core dev.loraj.core.model.onnx.OnnxFuzzTest#model"
  "lora-variants dev.loraj.variants.ConfigCodecFuzzTest#decode"
  "lora-eval dev.loraj.eval.continual.ContinualSpecFuzzTest#yaml"
  "lora-bench dev.loraj.bench.sweep.SweepConfigFuzzTest#yaml"
)

mvn -q -B -ntp -o test-compile -pl lora-bench -am || exit 1
LOGS="$ROOT/target/fuzz"
mkdir -p "$LOGS"
export JAZZER_FUZZ=1
export JAZZER_MAX_DURATION="${SECONDS_PER_TARGET}s"
# guide the fuzzer by coverage of the parsers and of the JSON/YAML libraries under them
export JAZZER_INSTRUMENTATION_INCLUDES="dev.loraj.**:com.fasterxml.jackson.**:org.yaml.snakeyaml.**"
summary=()
status=0
for t in "${TARGETS[@]}"; do
  module="${t%% *}"
  test="${t#* }"
  [[ -n "$FILTER" && ! "$test" =~ $FILTER ]] && continue
  log="$LOGS/${test##*.}.log"
  echo "== $test: fuzzing for ${SECONDS_PER_TARGET} s (log: $log)"
  # -am: the module's reactor dependencies come from their target/ directories (nothing installed)
  mvn -B -ntp -o test -pl "$module" -am -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false \
      -Dsurefire.argLine="-Xmx1g -Dorg.nd4j.log.initialization=false --add-modules jdk.incubator.vector" \
      >"$log" 2>&1
  rc=$?
  # libFuzzer's last status line: "#<executions> DONE ..." or the last "#<n> pulse/NEW/REDUCE"
  execs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  finding=$(grep -aE 'FuzzTestFindingException|== Java Exception|crash-[0-9a-f]{40}|timeout-[0-9a-f]{40}' "$log" | head -3 | tr '\n' ' ')
  # libFuzzer reports an input slower than 10 s (-report_slow_units) as "Slowest unit": a hang risk
  slow=$(grep -aE 'Slowest unit' "$log" | tail -1)
  [[ -n "$slow" ]] && finding="$finding slow input: $slow"
  if [[ $rc -ne 0 || -n "$finding" ]]; then
    status=1
    summary+=("$(printf '%-62s %12s executions  FINDING: %s' "$test" "${execs:-?}" "${finding:-exit $rc, see $log}")")
  else
    summary+=("$(printf '%-62s %12s executions  0 findings' "$test" "${execs:-?}")")
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit $status
