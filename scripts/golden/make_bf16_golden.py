#!/usr/bin/env python3
"""Golden files for a bfloat16 base (PyTorch CPU + transformers): bf16 weights, float32 compute.

Writes lora-core/src/test/resources/golden/bf16_v1/:
  llama-bf16-tiny/      a tiny random Llama saved in bfloat16 (config.json + model.safetensors)
  expected.safetensors  float32 logits and last hidden state of that checkpoint with every
                        weight widened to float32 (exact) and computed in float32: what a frozen
                        base held in 16 bits and upcast inside its matmuls must reproduce
  cases.json            index: model dir, inputs, keys, versions
  SHA256SUMS            digests of the files above

The model is built in float32 from a fixed seed, rounded to bfloat16 (round to nearest even) and
saved; the reference loads the saved file and widens it with .to(torch.float32), so both sides
start from the same bfloat16 values. The output head has 300 rows, more than one 256-row chunk
of the Java matmul, so chunk boundaries are exercised.

Run (from the repository root, with the optional venv of scripts/setup-python.sh):
  .venv-python/bin/python scripts/golden/make_bf16_golden.py
  .venv-python/bin/python scripts/golden/make_bf16_golden.py --check   # byte-identical?
Deterministic: explicit seed, single-threaded torch, eager attention.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy
import safetensors
import safetensors.torch
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft_golden import cli, write_sums  # noqa: E402  (the sibling script's command line and checksums)

GOLDEN_VERSION = "bf16_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "lora-core/src/test/resources/golden" / GOLDEN_VERSION

MODEL_DIR = "llama-bf16-tiny"
SEED = 3001
INPUT_IDS = [[3, 14, 15, 9, 26, 5, 35, 297, 128]]


def config():
    return LlamaConfig(hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, vocab_size=300,
                       max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
                       tie_word_embeddings=False)


@torch.no_grad()
def generate(out):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    torch.manual_seed(SEED)
    net = LlamaForCausalLM(config()).eval().to(torch.bfloat16)
    target = out / MODEL_DIR
    net.save_pretrained(target)
    extra = target / "generation_config.json"
    if extra.exists():
        extra.unlink()
    dtypes = sorted({str(t.dtype) for t in safetensors.torch.load_file(str(target / "model.safetensors")).values()})
    cwd = os.getcwd()
    os.chdir(out)  # relative dir: nothing machine-specific ends up in the files
    try:
        ref = LlamaForCausalLM.from_pretrained(MODEL_DIR, attn_implementation="eager",
                                               dtype=torch.bfloat16).eval()
    finally:
        os.chdir(cwd)
    ref = ref.to(torch.float32)  # bf16 -> fp32 is exact: fp32 compute on bf16 values
    result = ref(input_ids=torch.tensor(INPUT_IDS, dtype=torch.long), output_hidden_states=True)
    tensors = {
        "llama-bf16/logits": result.logits.detach().to(torch.float32).contiguous().clone(),
        "llama-bf16/hidden": result.hidden_states[-1].detach().to(torch.float32).contiguous().clone(),
    }
    safetensors.torch.save_file(tensors, str(out / "expected.safetensors"),
                                metadata={"golden": GOLDEN_VERSION})
    index = dict(
        golden_version=GOLDEN_VERSION,
        generator="scripts/golden/make_bf16_golden.py",
        versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                      transformers=transformers.__version__, safetensors=safetensors.__version__,
                      numpy=numpy.__version__),
        expected_file="expected.safetensors",
        model=dict(dir=MODEL_DIR, cls="LlamaForCausalLM", seed=SEED, checkpoint_dtypes=dtypes,
                   attn_implementation="eager", inputs=dict(input_ids=INPUT_IDS),
                   logits_key="llama-bf16/logits", hidden_key="llama-bf16/hidden",
                   logits_shape=list(tensors["llama-bf16/logits"].shape)),
        tolerance_note=("bf16 weights widened to float32, float32 CPU compute on both sides; "
                        "a Java port should match logits to ~1e-5 absolute"))
    (out / "cases.json").write_text(json.dumps(index, indent=2) + "\n")
    write_sums(out)


def main():
    cli(__doc__, DEFAULT_OUT, GOLDEN_VERSION, generate)


if __name__ == "__main__":
    main()
