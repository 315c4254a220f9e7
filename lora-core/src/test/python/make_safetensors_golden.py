"""Writes the safetensors golden files read by SafetensorsGoldenTest.

Regenerate (from the repository root; the output is committed):

    scripts/setup-python.sh                                   # the venv .venv-python
    .venv-python/bin/pip install ml-dtypes==0.6.0
    .venv-python/bin/python lora-core/src/test/python/make_safetensors_golden.py

Generated with safetensors 0.8.0, numpy 2.4.6, ml_dtypes 0.6.0. F16 rounding is numpy's
astype(float16), BF16 rounding is ml_dtypes' bfloat16 cast: both round to nearest even.
Each narrowed tensor `X.rounded` comes with its float32 input `X.source` and its exact
widening `X.widened`, so the Java test can check conversions both ways.
"""
import json
import pathlib
import sys

import ml_dtypes
import numpy as np
import safetensors
from safetensors.numpy import save_file

OUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "golden" / "safetensors_v1"


def f32(values):
    return np.array(values, dtype=np.float32)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    f16_source = f32([1 / 3, -2.5, 65504.0, 65520.0, 1e-8, 2.0**-25, 3 * 2.0**-25,
                      1 + 2.0**-11, 1 + 3 * 2.0**-11, -0.0, 6.1e-5, np.nan, -np.inf, 0.1,
                      1000.7, -33.33])
    bf16_source = f32([1 / 3, 1 + 2.0**-8, 1 + 3 * 2.0**-8, 3.4e38, 1e-40, -1.5, np.nan,
                       np.inf, -0.0, 0.1, 12345.678, -7e-3])
    with np.errstate(over="ignore"):
        f16 = f16_source.astype(np.float16)
    bf16 = bf16_source.astype(ml_dtypes.bfloat16)
    mixed = {
        "model.layers.0.weight": ((np.arange(12, dtype=np.float32) - 5.5) / 3).reshape(3, 4),
        "model.scalar": np.array(3.25, dtype=np.float32),
        "model.empty": np.zeros((0, 3), dtype=np.float32),
        'weird "name"\t\u0001 \u00e9\u4e2d': f32([7.0]),
        "f16.source": f16_source,
        "f16.rounded": f16.reshape(2, 8),
        "f16.widened": f16.astype(np.float32),
        "bf16.source": bf16_source,
        "bf16.rounded": bf16.reshape(3, 4),
        "bf16.widened": bf16.astype(np.float32),
        "codes.u8": np.array([[0, 1, 127], [128, 200, 255]], dtype=np.uint8),
        "codes.i8": np.array([-128, -1, 0, 127], dtype=np.int8),
        "index.i64": np.array([0, -1, 2**40, -(2**62)], dtype=np.int64),
        "index.i32": np.array([[7], [-9]], dtype=np.int32),
    }
    save_file(mixed, str(OUT / "mixed.safetensors"), metadata={"format": "pt"})
    save_file({"w": f32([[1, 2], [3, 4]])}, str(OUT / "no_metadata.safetensors"))
    save_file({}, str(OUT / "empty.safetensors"))
    versions = {"safetensors": safetensors.__version__, "numpy": np.__version__,
                "ml_dtypes": ml_dtypes.__version__, "python": sys.version.split()[0]}
    (OUT / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
