#!/usr/bin/env python3
"""Independent NF4 golden values for QuantizedWeightGoldenTest (lora-core).

Implements bitsandbytes' blockwise NF4 quantization rule from its published description,
without any Java code: per block of 64 consecutive elements (row-major) absmax = max |x|
(float32), normalized = x * (1 / absmax) in float32 (the CUDA kernel multiplies by the
reciprocal), code = dQuantizeNF4(normalized) (the kernel's decision tree: strict '>' against
fixed thresholds, i.e. nearest level with ties to the lower index), two codes per byte with
the element of lower flat index in the high nibble.

The NF4 levels are also recomputed from their definition (bitsandbytes create_normal_map:
quantiles of N(0, 1) at linspace(0.9677083, 0.5, 9)[:-1] and the negatives of
linspace(0.9677083, 0.5, 8)[:-1], plus 0, divided by the max) to show where the literal table
comes from.

Input (2 x 64, exact in float32): k = 64 r + c, x_k = (((7 k^2 + 3 k) mod 97) - 41) / (16 + 8 r).

Run: python scripts/golden/nf4_golden.py  (in the venv of scripts/setup-python.sh)
"""
import numpy as np
import torch

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0], dtype=np.float32)

# Thresholds of bitsandbytes' dQuantizeNF4 decision tree (csrc/kernels.cu), code i+1 when x > T[i].
THRESHOLDS = np.array([
    -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544,
    -0.23460740596055984, -0.13791173323988914, -0.045525018125772476, 0.03979014977812767,
    0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
    0.5016634166240692, 0.6427869200706482, 0.8614784181118011], dtype=np.float32)


def normal_map(offset=0.9677083):
    normal = torch.distributions.Normal(0.0, 1.0)
    p1 = torch.linspace(offset, 0.5, 9)[:-1].double()
    p2 = torch.linspace(offset, 0.5, 8)[:-1].double()
    v = normal.icdf(p1).tolist() + [0.0] + (-normal.icdf(p2)).tolist()
    t = torch.tensor(sorted(v), dtype=torch.float32)
    return (t / t.max()).numpy()


def dquantize_nf4(x):
    code = 0
    for t in THRESHOLDS:  # equivalent to walking the tree: thresholds are ascending
        if x > t:
            code += 1
    return code


def main():
    derived = normal_map()
    print("NF4 levels from the normal-quantile definition, max |derived - literal| = %.3g"
          % np.max(np.abs(derived - NF4)))
    k = np.arange(128, dtype=np.int64)
    r = k // 64
    x = ((((7 * k * k + 3 * k) % 97) - 41) / (16 + 8 * r)).astype(np.float32).reshape(2, 64)
    flat = x.reshape(-1)
    codes = np.zeros(128, dtype=np.int64)
    absmax = []
    for b in range(2):
        blk = flat[64 * b: 64 * (b + 1)]
        a = np.max(np.abs(blk)).astype(np.float32)
        absmax.append(a)
        inv = np.float32(1.0) / a
        norm = (blk * inv).astype(np.float32)
        # the golden is robust only if no normalized value sits on a threshold
        assert np.min(np.abs(norm[:, None] - THRESHOLDS[None, :])) > 1e-6
        for i, v in enumerate(norm):
            c = dquantize_nf4(v)
            # cross-check: nearest level
            assert c == int(np.argmin(np.abs(NF4.astype(np.float64) - float(v))))
            codes[64 * b + i] = c
    packed = (codes[0::2] << 4) | codes[1::2]
    for r in range(2):
        print("input row %d:" % r, " ".join("%.9g" % v for v in x[r]))
    print("absmax:", ", ".join(repr(float(a)) + "f" for a in absmax))
    for b in range(2):
        row = packed[32 * b: 32 * (b + 1)]
        print("packed block %d: " % b + ", ".join("0x%02X" % v for v in row))
    deq = NF4[codes].reshape(2, 64) * np.repeat(np.array(absmax, dtype=np.float32), 64).reshape(2, 64)
    err = x.astype(np.float64) - deq.astype(np.float64)
    print("||x - deq||_F = %.9f" % np.sqrt(np.sum(err * err)))


if __name__ == "__main__":
    main()
