# shellcheck shell=sh
# Choose OpenBLAS's kernel from the CPU's flags. Source it before starting the JVM:
#
#     . scripts/blas-env.sh && mvn test
#
# Why: the OpenBLAS 0.3.19 bundled with ND4J 1.0.0-M2.1 does not recognise newer CPUs and
# falls back to a slow generic kernel (sgemm ~33 GFLOP/s instead of ~200 on an AVX-512 machine).
# OPENBLAS_CORETYPE is read once, when the library loads, so it must be in the environment
# before `java` starts. A coretype the CPU cannot execute computes garbage or crashes, hence the
# choice from /proc/cpuinfo flags rather than a fixed value; BlasCheck in lora-core verifies the
# result numerically.
#
#   avx512f + avx512bw + avx512vl + avx512dq  -> SkylakeX
#   avx2 + fma                                -> Haswell
#   avx                                       -> Sandybridge
#   otherwise                                 -> left unset (OpenBLAS's own detection)
#
# A value already set by the user is kept. Either way the choice the flags give is exported as
# LORA_BLAS_CPU_CORETYPE, so that a run can say when a pinned kernel is not the one the CPU
# could run. On non-Linux systems nothing is done.
# BLAS_ENV_CPUINFO overrides the cpuinfo path (for tests). POSIX sh; safe under `set -eu`;
# defines no variables or functions after it returns except OPENBLAS_CORETYPE and
# LORA_BLAS_CPU_CORETYPE.

if [ "$(uname -s 2>/dev/null)" = "Linux" ] && [ -r "${BLAS_ENV_CPUINFO:-/proc/cpuinfo}" ]; then
  # first "flags" line (x86 only; other architectures have none, so nothing is chosen)
  _blas_env_flags=" $(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' \
      "${BLAS_ENV_CPUINFO:-/proc/cpuinfo}" 2>/dev/null | sed -n 1p) "
  _blas_env_core=""
  case "$_blas_env_flags" in
    *" avx512f "*)
      case "$_blas_env_flags" in *" avx512bw "*)
        case "$_blas_env_flags" in *" avx512vl "*)
          case "$_blas_env_flags" in *" avx512dq "*) _blas_env_core=SkylakeX ;; esac ;;
        esac ;;
      esac ;;
  esac
  if [ -z "$_blas_env_core" ]; then
    case "$_blas_env_flags" in
      *" avx2 "*) case "$_blas_env_flags" in *" fma "*) _blas_env_core=Haswell ;; esac ;;
    esac
  fi
  if [ -z "$_blas_env_core" ]; then
    case "$_blas_env_flags" in *" avx "*) _blas_env_core=Sandybridge ;; esac
  fi
  if [ -n "$_blas_env_core" ]; then
    LORA_BLAS_CPU_CORETYPE=$_blas_env_core
    export LORA_BLAS_CPU_CORETYPE
    if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
      OPENBLAS_CORETYPE=$_blas_env_core
      export OPENBLAS_CORETYPE
    fi
  fi
  unset _blas_env_flags _blas_env_core
fi
