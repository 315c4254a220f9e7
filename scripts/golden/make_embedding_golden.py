#!/usr/bin/env python3
"""Golden files for LoRA on a token-embedding table (PyTorch CPU + transformers + PEFT 0.21).

Writes lora-core/src/test/resources/golden/embedding_v1/:
  llama-tied-tiny/      a tiny random Llama with tied input/output embeddings and grouped-query
                        attention (config.json + model.safetensors)
  adapters/<case>/      PEFT adapter directories as PeftModel.save_pretrained writes them, with
                        lora_embedding_A/B on model.embed_tokens beside lora_A/B on linear layers
  expected.safetensors  float32 logits: base, adapter unmerged, and merged (merge_and_unload)
  cases.json            index: model dir, adapter dirs, inputs, keys, saved tensor names, figures
  SHA256SUMS            digests of the files above

Cases:
  llama-tied-embed-lora    target_modules ["embed_tokens", "q_proj", "v_proj"]: because the
                           list names embed_tokens, save_pretrained's save_embedding_layers="auto"
                           also writes the frozen table (model.embed_tokens.base_layer.weight)
  llama-tied-embed-rslora  use_rslora, target_modules ["model.embed_tokens", "o_proj"]: a full
                           path, so the table is not written
Every lora_embedding_A, lora_embedding_B and lora_B is drawn again from randn * 0.1 after
get_peft_model (PEFT's init has A = 0 on embeddings), so every branch changes the logits.

With tie_word_embeddings and PEFT's default ensure_weight_tying=False the adapter wraps the input
embedding only: unmerged, the head computes with the original table; merged, the shared table holds
E + (s B A)^T and the head sees it too. So the merged logits differ from the unmerged ones, and
cases.json records by how much (PEFT warns about this when merging).

Run (from the repository root, with the optional venv of scripts/setup-python.sh):
  .venv-python/bin/python scripts/golden/make_embedding_golden.py
  .venv-python/bin/python scripts/golden/make_embedding_golden.py --check   # byte-identical?
Deterministic: explicit seeds, single-threaded torch, eager attention.
"""

import json
import os
import sys
import warnings
from pathlib import Path

import numpy
import peft
import safetensors
import safetensors.torch
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft_golden import (cli, deterministic_empty, write_sums,  # noqa: E402  (the sibling script's helpers)
                              sort_target_modules, strip)

GOLDEN_VERSION = "embedding_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "lora-core/src/test/resources/golden" / GOLDEN_VERSION

MODEL_DIR = "llama-tied-tiny"
MODEL_SEED = 4001
INPUT_IDS = [[3, 14, 15, 9, 26, 5, 35, 63, 0]]
SCALE = 0.1  # every adapter matrix <- randn * SCALE

CASES = [
    dict(name="llama-tied-embed-lora", seed=4101,
         lora=dict(r=4, lora_alpha=8, lora_dropout=0.0, bias="none",
                   target_modules=["embed_tokens", "q_proj", "v_proj"])),
    dict(name="llama-tied-embed-rslora", seed=4102,
         lora=dict(r=4, lora_alpha=8, lora_dropout=0.0, bias="none", use_rslora=True,
                   target_modules=["model.embed_tokens", "o_proj"])),
]


def config():
    return LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                       max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=10000.0,
                       tie_word_embeddings=True)


def load_base():
    # relative dir: adapter_config.json's base_model_name_or_path is not machine-specific
    return LlamaForCausalLM.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()


@torch.no_grad()
def logits_of(model):
    out = model(input_ids=torch.tensor(INPUT_IDS, dtype=torch.long))
    return out.logits.detach().to(torch.float32).contiguous().clone()


@torch.no_grad()
def perturb(peft_model, seed):
    gen = torch.Generator().manual_seed(seed)
    for name, p in peft_model.named_parameters():
        if ".lora_embedding_" in name or ".lora_B." in name:
            p.copy_(torch.randn(p.shape, generator=gen) * SCALE)


def run_case(out, case, tensors):
    key = case["name"]
    torch.manual_seed(case["seed"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        peft_model = get_peft_model(load_base(), LoraConfig(**case["lora"])).eval()
    perturb(peft_model, case["seed"] + 100000)
    emb = peft_model.base_model.model.model.embed_tokens
    record = dict(name=key, model_dir=MODEL_DIR, adapter_dir=f"adapters/{key}",
                  inputs=dict(input_ids=INPUT_IDS), lora_config=case["lora"],
                  perturbation=dict(generator_seed=case["seed"] + 100000,
                                    lora_embedding_A_B_and_lora_B=f"randn * {SCALE}",
                                    order="named_parameters()"),
                  embedding_scaling=emb.scaling["default"],
                  lora_embedding_A_shape=list(emb.lora_embedding_A["default"].shape),
                  lora_embedding_B_shape=list(emb.lora_embedding_B["default"].shape),
                  tied_head_shares_table=peft_model.base_model.model.lm_head.weight
                  is emb.base_layer.weight,
                  peft_warnings=sorted({str(w.message).split(".")[0] for w in caught}))
    adapter = logits_of(peft_model)
    tensors[f"{key}/adapter/logits"] = adapter
    record["adapter_logits_key"] = f"{key}/adapter/logits"
    record["max_abs_adapter_minus_base"] = (adapter - tensors["base/logits"]).abs().max().item()

    adapter_dir = out / "adapters" / key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model.save_pretrained(adapter_dir)
    for card in adapter_dir.rglob("README.md"):
        card.unlink()
    sort_target_modules(adapter_dir / "adapter_config.json")
    with safetensors.safe_open(str(adapter_dir / "adapter_model.safetensors"), "pt") as f:
        record["saved_tensors"] = sorted(f.keys())

    reloaded = PeftModel.from_pretrained(load_base(), str(adapter_dir)).eval()
    reload_diff = (logits_of(reloaded) - adapter).abs().max().item()
    assert reload_diff == 0.0, f"{key}: reloaded adapter differs by {reload_diff}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = peft_model.merge_and_unload()
    merged_logits = logits_of(merged)
    tensors[f"{key}/merged/logits"] = merged_logits
    record["merged_logits_key"] = f"{key}/merged/logits"
    record["max_abs_merged_minus_adapter"] = (merged_logits - adapter).abs().max().item()
    tensors[f"{key}/merged/model.embed_tokens.weight"] = (
        merged.state_dict()["model.embed_tokens.weight"].detach().to(torch.float32).contiguous().clone())
    record["merged_table_key"] = f"{key}/merged/model.embed_tokens.weight"
    record["adapted_modules"] = sorted(strip(n) for n, m in reloaded.named_modules()
                                       if getattr(m, "lora_embedding_A", None) or getattr(m, "lora_A", None))
    return record


def generate(out):
    deterministic_empty(out)
    torch.manual_seed(MODEL_SEED)
    net = LlamaForCausalLM(config()).eval()
    net.save_pretrained(out / MODEL_DIR)
    extra = out / MODEL_DIR / "generation_config.json"
    if extra.exists():
        extra.unlink()
    cwd = os.getcwd()
    os.chdir(out)
    try:
        tensors = {"base/logits": logits_of(load_base())}
        cases = [run_case(out, c, tensors) for c in CASES]
    finally:
        os.chdir(cwd)
    safetensors.torch.save_file(tensors, str(out / "expected.safetensors"), metadata={"golden": GOLDEN_VERSION})
    index = dict(
        golden_version=GOLDEN_VERSION,
        generator="scripts/golden/make_embedding_golden.py",
        versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                      transformers=transformers.__version__, peft=peft.__version__,
                      safetensors=safetensors.__version__, numpy=numpy.__version__),
        expected_file="expected.safetensors",
        model=dict(dir=MODEL_DIR, cls="LlamaForCausalLM", seed=MODEL_SEED, tie_word_embeddings=True,
                   attn_implementation="eager", base_logits_key="base/logits"),
        cases=cases,
        tolerance_note="float32 CPU compute on both sides; a Java port should match to ~1e-5 absolute")
    (out / "cases.json").write_text(json.dumps(index, indent=2) + "\n")
    write_sums(out)


def main():
    cli(__doc__, DEFAULT_OUT, GOLDEN_VERSION, generate)


if __name__ == "__main__":
    main()
