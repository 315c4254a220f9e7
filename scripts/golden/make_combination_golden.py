#!/usr/bin/env python3
"""Golden files for combining adapters and for several DoRA adapters on one layer, from PEFT.

Writes lora-core/src/test/resources/golden/combination_v1/ (the base model is the tiny Llama of
../peft_v1/llama-tiny, made by make_peft_golden.py, and is not copied):
  adapters/x/, adapters/y/          two LoRA adapters (PEFT directories): x r=4 alpha=8 on q,v;
                                    y r=4 alpha=4 on q,v,o (o carries y only)
  adapters/dora-x/, adapters/dora-y/  two DoRA adapters on q,v (both active at once)
  expected.safetensors              per combination: lora_A, lora_B and B A * scaling of every
                                    adapted module, and the logits with the combination active;
                                    DoRA: logits with both adapters unmerged and merged
  cases.json                        index: weights, combination_type, density, keys

PEFT's add_weighted_adapter is deterministic for cat, linear, svd, ties, magnitude_prune and
their _svd forms; the DARE types draw torch random masks and are not recorded.

Run (from the repository root, with the optional venv of scripts/setup-python.sh):
  .venv-python/bin/python scripts/golden/make_combination_golden.py [--check]
"""

import json
import os
import shutil
import sys
from pathlib import Path

import peft
import safetensors
import safetensors.torch
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft_golden import cli, deterministic_empty, write_sums  # noqa: E402  (the sibling script's helpers)

GOLDEN_VERSION = "combination_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN_ROOT = REPO_ROOT / "lora-core/src/test/resources/golden"
DEFAULT_OUT = GOLDEN_ROOT / GOLDEN_VERSION
BASE_DIR = GOLDEN_ROOT / "peft_v1"  # holds llama-tiny/
MODEL_DIR = "llama-tiny"
INPUT_IDS = [[3, 14, 15, 9, 26, 5, 35]]
B_SCALE = 0.1
MAGNITUDE_NOISE = 0.1

ADAPTERS = {
    "x": dict(seed=3000, config=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])),
    "y": dict(seed=3001, config=dict(r=4, lora_alpha=4, target_modules=["q_proj", "v_proj", "o_proj"])),
}
DORA_ADAPTERS = {
    "dora-x": dict(seed=3100, config=dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], use_dora=True)),
    "dora-y": dict(seed=3101, config=dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], use_dora=True)),
}

W = [0.7, -0.4]
COMBINATIONS = [
    dict(name="cat", combination_type="cat", weights=W),
    dict(name="linear", combination_type="linear", weights=W),
    dict(name="svd", combination_type="svd", weights=W, svd_rank=3),
    dict(name="ties", combination_type="ties", weights=W, density=0.5),
    dict(name="ties-frequency", combination_type="ties", weights=[1.0, 0.6], density=0.3,
         majority_sign_method="frequency"),
    dict(name="magnitude_prune", combination_type="magnitude_prune", weights=W, density=0.5),
    dict(name="ties_svd", combination_type="ties_svd", weights=W, density=0.5),
    dict(name="magnitude_prune_svd", combination_type="magnitude_prune_svd", weights=W, density=0.5),
]


def load_base():
    return LlamaForCausalLM.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()


@torch.no_grad()
def logits(model):
    out = model(input_ids=torch.tensor(INPUT_IDS, dtype=torch.long))
    return out.logits.detach().to(torch.float32).contiguous().clone()


@torch.no_grad()
def perturb(model, adapter, seed):
    """lora_B <- randn * B_SCALE, DoRA magnitude m <- m (1 + randn * MAGNITUDE_NOISE), for one adapter."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if f".lora_B.{adapter}." in name:
            p.copy_(torch.randn(p.shape, generator=gen) * B_SCALE)
        elif f".lora_magnitude_vector.{adapter}." in name or name.endswith(f".lora_magnitude_vector.{adapter}"):
            p.mul_(1 + torch.randn(p.shape, generator=gen) * MAGNITUDE_NOISE)


def with_adapters(specs):
    """The base with the given adapters added (lora_dropout 0, perturbed); the first is 'default'-free."""
    model = None
    for name, spec in specs.items():
        torch.manual_seed(spec["seed"])  # lora_A's kaiming init draws from the global generator
        config = LoraConfig(lora_dropout=0.0, bias="none", **spec["config"])
        if model is None:
            model = get_peft_model(load_base(), config, adapter_name=name)
        else:
            model.add_adapter(name, config)
        perturb(model, name, spec["seed"] + 100000)
    return model.eval()


def save(model, names, out):
    for name in names:
        model.save_pretrained(out / "adapters" / "_tmp", selected_adapters=[name])
        src = out / "adapters" / "_tmp" / name if (out / "adapters" / "_tmp" / name).exists() else out / "adapters" / "_tmp"
        dst = out / "adapters" / name
        dst.mkdir(parents=True)
        for f in ("adapter_config.json", "adapter_model.safetensors"):
            shutil.copy(src / f, dst / f)
        shutil.rmtree(out / "adapters" / "_tmp")
        config = json.loads((dst / "adapter_config.json").read_text())
        config["target_modules"] = sorted(config["target_modules"])  # PEFT writes a set in hash order
        (dst / "adapter_config.json").write_text(json.dumps(config, indent=2, sort_keys=True))


def strip(name):
    prefix = "base_model.model."
    return name[len(prefix):] if name.startswith(prefix) else name


def combinations(out, tensors):
    model = with_adapters(ADAPTERS)
    save(model, list(ADAPTERS), out)
    records = []
    for case in COMBINATIONS:
        kwargs = {k: v for k, v in case.items() if k not in ("name", "weights")}
        model.add_weighted_adapter(list(ADAPTERS), case["weights"], case["name"], **kwargs)
        model.set_adapter(case["name"])
        key = f"combination/{case['name']}"
        tensors[f"{key}/logits"] = logits(model)
        modules = []
        for name, module in model.named_modules():
            if hasattr(module, "lora_A") and case["name"] in module.lora_A:
                a = module.lora_A[case["name"]].weight.detach()
                b = module.lora_B[case["name"]].weight.detach()
                m = strip(name)
                modules.append(m)
                tensors[f"{key}/{m}.lora_A"] = a.to(torch.float32).contiguous().clone()
                tensors[f"{key}/{m}.lora_B"] = b.to(torch.float32).contiguous().clone()
                tensors[f"{key}/{m}.delta"] = module.get_delta_weight(case["name"]).detach().to(torch.float32).contiguous().clone()
        records.append(dict(case, adapters=list(ADAPTERS), logits_key=f"{key}/logits", modules=sorted(modules),
                            new_rank=model.peft_config[case["name"]].r))
    return records


def dora(out, tensors):
    model = with_adapters(DORA_ADAPTERS)
    save(model, list(DORA_ADAPTERS), out)
    model.base_model.set_adapter(list(DORA_ADAPTERS))
    unmerged = logits(model)
    merged = logits(model.merge_and_unload())
    tensors["dora/unmerged/logits"] = unmerged
    tensors["dora/merged/logits"] = merged
    return dict(adapters=list(DORA_ADAPTERS), active=list(DORA_ADAPTERS),
                unmerged_logits_key="dora/unmerged/logits", merged_logits_key="dora/merged/logits",
                max_abs_merged_minus_unmerged=(merged - unmerged).abs().max().item(),
                note="PEFT applies several DoRA adapters of one layer in turn: each rescales the output so far,"
                     " with its weight norm taken over the base weight without the other adapters")


def generate(out):
    deterministic_empty(out)
    cwd = os.getcwd()
    os.chdir(BASE_DIR)  # the base is loaded by its relative dir: base_model_name_or_path = llama-tiny
    try:
        tensors = {"base/logits": logits(load_base())}
        cases = combinations(out, tensors)
        dora_case = dora(out, tensors)
    finally:
        os.chdir(cwd)
    safetensors.torch.save_file(tensors, str(out / "expected.safetensors"), metadata={"golden": GOLDEN_VERSION})
    index = dict(golden_version=GOLDEN_VERSION, generator="scripts/golden/make_combination_golden.py",
                 versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                               transformers=transformers.__version__, peft=peft.__version__,
                               safetensors=safetensors.__version__),
                 model_dir=f"../peft_v1/{MODEL_DIR}", inputs=dict(input_ids=INPUT_IDS), base_logits_key="base/logits",
                 perturbation=dict(lora_B=f"randn * {B_SCALE}", lora_magnitude_vector=f"m * (1 + randn * {MAGNITUDE_NOISE})",
                                   generator_seed="adapter seed + 100000"),
                 adapters={k: v for k, v in {**ADAPTERS, **DORA_ADAPTERS}.items()},
                 combinations=cases, dora=dora_case)
    (out / "cases.json").write_text(json.dumps(index, indent=2) + "\n")
    write_sums(out)


def main():
    cli(__doc__, DEFAULT_OUT, GOLDEN_VERSION, generate)


if __name__ == "__main__":
    main()
