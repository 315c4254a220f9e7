#!/usr/bin/env python3
"""Golden AdaLoRA and VeRA adapter directories written by PEFT (PyTorch CPU + transformers + PEFT).

Writes lora-variants/src/test/resources/golden/peft_tuners_v1/:
  adapters/<case>/        adapter_config.json + adapter_model.safetensors, as
                          PeftModel.save_pretrained writes them (model card removed,
                          target_modules sorted)
  expected.safetensors    float32 logits of each case's adapter loaded back from its directory
                          (<case>/adapter/logits) and of the base (<case>/base/logits)
  cases.json              index: versions, base model dir, inputs, config arguments, perturbation,
                          adapted modules, measured max |adapter - base|
The base models are the tiny checkpoints of lora-core's golden/peft_v1 (read, not rewritten).

Run from the repository root:
  .venv-python/bin/python scripts/golden/make_peft_tuner_golden.py           # rewrite
  .venv-python/bin/python scripts/golden/make_peft_tuner_golden.py --check   # byte-identical?
Deterministic: explicit seeds, one torch thread, eager attention.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy
import peft
import safetensors
import safetensors.torch
import torch
import transformers
from peft import AdaLoraConfig, PeftModel, VeraConfig, get_peft_model
from transformers import LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft_golden import cli, write_sums  # noqa: E402  (the sibling script's command line and checksums)

GOLDEN_VERSION = "peft_tuners_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "lora-core/src/test/resources/golden/peft_v1"
DEFAULT_OUT = REPO_ROOT / "lora-variants/src/test/resources/golden" / GOLDEN_VERSION
CAUSAL_IDS = [[3, 14, 15, 9, 26, 5, 35]]

CASES = [
    dict(name="llama-adalora", model="llama-tiny", seed=3001, kind="adalora",
         config=dict(init_r=6, target_r=4, lora_alpha=8, lora_dropout=0.0,
                     target_modules=["q_proj", "v_proj", "down_proj"], total_step=100, tinit=10,
                     tfinal=10, deltaT=1, beta1=0.85, beta2=0.85, orth_reg_weight=0.5),
         # triplets pruned as PEFT's rank allocator would record them: E zeroed at False, and
         # save_pretrained keeps only the True rows of lora_A / lora_E and columns of lora_B
         rank_pattern={"model.layers.0.self_attn.q_proj.lora_E": [True, False, True, True, False, True],
                       "model.layers.1.mlp.down_proj.lora_E": [False, True, True, False, False, False]},
         perturbation="lora_A, lora_B <- randn * 0.3, lora_E <- randn (after get_peft_model)"),
    dict(name="llama-vera", model="llama-tiny", seed=3002, kind="vera",
         config=dict(r=16, target_modules=["q_proj", "v_proj", "down_proj"], projection_prng_key=7,
                     save_projection=True, vera_dropout=0.0, d_initial=0.1),
         perturbation="vera_lambda_b <- randn * 0.5, vera_lambda_d <- d * (1 + randn * 0.5)"),
]


def tensor_inputs():
    return dict(input_ids=torch.tensor(CAUSAL_IDS, dtype=torch.long))


def load_base(model):
    # relative dir (cwd is MODELS_DIR) so base_model_name_or_path is not machine-specific
    return LlamaForCausalLM.from_pretrained(model, attn_implementation="eager").eval()


@torch.no_grad()
def logits_of(model):
    return model(**tensor_inputs()).logits.detach().to(torch.float32).contiguous().clone()


@torch.no_grad()
def perturb(peft_model, case):
    g = torch.Generator().manual_seed(case["seed"] + 100000)
    for name, p in peft_model.named_parameters():
        if case["kind"] == "adalora":
            if ".lora_E." in name:
                p.copy_(torch.randn(p.shape, generator=g))
            elif ".lora_A." in name or ".lora_B." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        else:
            if ".vera_lambda_b." in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif ".vera_lambda_d." in name:
                p.copy_(p * (1 + torch.randn(p.shape, generator=g) * 0.5))


@torch.no_grad()
def apply_rank_pattern(peft_model, rank_pattern):
    """What AdaLoRA's allocator leaves behind: the pattern in the config, E zeroed where False."""
    peft_model.peft_config["default"].rank_pattern = {k: list(v) for k, v in rank_pattern.items()}
    for key, mask in rank_pattern.items():
        module = peft_model.base_model.model.get_submodule(key[: -len(".lora_E")])
        keep = torch.tensor(mask, dtype=torch.bool)
        module.lora_E["default"][~keep] = 0.0


def sort_target_modules(config_file):
    """PEFT writes target_modules (a set) in hash order; sorted for byte-identical regeneration."""
    config = json.loads(config_file.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))


def run_case(out, case, tensors):
    base_logits = logits_of(load_base(case["model"]))
    torch.manual_seed(case["seed"])
    if case["kind"] == "adalora":
        config = AdaLoraConfig(**case["config"])
    else:
        config = VeraConfig(**case["config"])
    model = get_peft_model(load_base(case["model"]), config)
    perturb(model, case)
    if case.get("rank_pattern"):
        apply_rank_pattern(model, case["rank_pattern"])
    adapter_dir = out / "adapters" / case["name"]
    model.save_pretrained(str(adapter_dir))
    (adapter_dir / "README.md").unlink(missing_ok=True)
    sort_target_modules(adapter_dir / "adapter_config.json")
    in_memory = logits_of(model)
    # the directory alone (as a user loads it) defines the expected logits
    loaded = PeftModel.from_pretrained(load_base(case["model"]), str(adapter_dir)).eval()
    logits = logits_of(loaded)
    key = case["name"]
    tensors[f"{key}/adapter/logits"] = logits
    tensors[f"{key}/base/logits"] = base_logits
    adapted = sorted({n.split(".vera_lambda_b")[0].split(".lora_E")[0][len("base_model.model."):]
                      for n, _ in loaded.named_parameters()
                      if ".vera_lambda_b" in n or ".lora_E" in n})
    return dict(
        name=key, model=case["model"], kind=case["kind"], seed=case["seed"],
        adapter_dir=f"adapters/{key}", inputs=dict(input_ids=CAUSAL_IDS),
        config=case["config"], rank_pattern=case.get("rank_pattern"),
        perturbation=case["perturbation"], adapted_modules=adapted,
        logits_key=f"{key}/adapter/logits", base_logits_key=f"{key}/base/logits",
        max_abs_adapter_minus_base=float((logits - base_logits).abs().max()),
        max_abs_reloaded_minus_in_memory=float((logits - in_memory).abs().max()))


def generate(out):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cwd = os.getcwd()
    os.chdir(MODELS_DIR)
    try:
        tensors = {}
        cases = [run_case(out, case, tensors) for case in CASES]
    finally:
        os.chdir(cwd)
    safetensors.torch.save_file(tensors, str(out / "expected.safetensors"),
                                metadata={"golden": GOLDEN_VERSION})
    index = dict(
        golden_version=GOLDEN_VERSION,
        generator="scripts/golden/make_peft_tuner_golden.py",
        versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                      transformers=transformers.__version__, peft=peft.__version__,
                      safetensors=safetensors.__version__, numpy=numpy.__version__),
        models_dir="lora-core golden/peft_v1",
        expected_file="expected.safetensors",
        cases=cases)
    (out / "cases.json").write_text(json.dumps(index, indent=2) + "\n")
    write_sums(out)
    for c in cases:
        print(f"{c['name']}: max |adapter - base| = {c['max_abs_adapter_minus_base']:.3e}, "
              f"max |reloaded - in memory| = {c['max_abs_reloaded_minus_in_memory']:.3e}")


def main():
    cli(__doc__, DEFAULT_OUT, GOLDEN_VERSION, generate)


if __name__ == "__main__":
    main()
