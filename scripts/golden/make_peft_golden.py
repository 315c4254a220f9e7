#!/usr/bin/env python3
"""Golden files from the reference implementation (PyTorch CPU + transformers + PEFT).

Writes lora-core/src/test/resources/golden/peft_v1/:
  gpt2-tiny/, llama-tiny/, llama3-tiny/, qwen2-tiny/, bert-tiny/
                                        tiny random base models (config.json + model.safetensors)
  adapters/<case>/                      PEFT adapter directories (adapter_config.json +
                                        adapter_model.safetensors), as PeftModel.save_pretrained
  expected.safetensors                  float32 logits and last hidden states (base, adapter
                                        unmerged, merged) and merged weights of adapted modules
  cases.json                            index: model dir, adapter dir, inputs, keys, tolerances
  (the default-init statistics of the case llama-lora-default-init live in cases.json)

Run (from the repository root, with the optional venv of scripts/setup-python.sh):
  .venv-python/bin/python scripts/golden/make_peft_golden.py
Deterministic: explicit seeds for every random draw, single-threaded torch, eager attention.
Re-running with the pinned versions rewrites byte-identical files (checked by --check).
"""

import argparse
import hashlib
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
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel,
                          LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM)

GOLDEN_VERSION = "peft_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "lora-core/src/test/resources/golden" / GOLDEN_VERSION

# Fixed inputs. Causal LMs: one row of 7 token ids. BERT: 2 rows, the second right-padded once.
CAUSAL_IDS = [[3, 14, 15, 9, 26, 5, 35]]
BERT_IDS = [[2, 14, 15, 9, 26, 5, 3], [2, 7, 33, 41, 12, 3, 0]]
BERT_MASK = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0]]
BERT_TOKEN_TYPES = [[0] * 7, [0] * 7]

B_SCALE = 0.1          # lora_B <- randn * B_SCALE, so the adapter branch is not a no-op
MAGNITUDE_NOISE = 0.1  # DoRA magnitude <- magnitude * (1 + randn * MAGNITUDE_NOISE)

# Each base model: how to build it, its dir, its seed and its inputs.
MODELS = {
    "gpt2": dict(
        dir="gpt2-tiny", seed=1001, cls=GPT2LMHeadModel,
        config=lambda: GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=64, n_positions=32),
        inputs=dict(input_ids=CAUSAL_IDS)),
    "llama": dict(
        dir="llama-tiny", seed=1002, cls=LlamaForCausalLM,
        config=lambda: LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                                   max_position_embeddings=64, rms_norm_eps=1e-6,
                                   rope_theta=10000, tie_word_embeddings=False),
        inputs=dict(input_ids=CAUSAL_IDS)),
    # Llama 3.x shapes: grouped-query attention, tied input/output embeddings and llama3 rotary
    # scaling (original context 16, so that every band of the scaling is hit at head_dim 8)
    "llama3": dict(
        dir="llama3-tiny", seed=1004, cls=LlamaForCausalLM,
        config=lambda: LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                                   max_position_embeddings=64, rms_norm_eps=1e-5,
                                   rope_parameters=dict(rope_type="llama3", rope_theta=10000.0,
                                                        factor=8.0, low_freq_factor=1.0,
                                                        high_freq_factor=4.0,
                                                        original_max_position_embeddings=16),
                                   tie_word_embeddings=True),
        inputs=dict(input_ids=CAUSAL_IDS)),
    # Qwen2 shapes: biases on q/k/v, grouped-query attention, tied embeddings
    "qwen2": dict(
        dir="qwen2-tiny", seed=1005, cls=Qwen2ForCausalLM,
        config=lambda: Qwen2Config(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, vocab_size=64,
                                   max_position_embeddings=64, rms_norm_eps=1e-6,
                                   rope_parameters=dict(rope_type="default", rope_theta=1000000.0),
                                   tie_word_embeddings=True),
        inputs=dict(input_ids=CAUSAL_IDS)),
    "bert": dict(
        dir="bert-tiny", seed=1003, cls=BertForSequenceClassification,
        config=lambda: BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, vocab_size=64, max_position_embeddings=64,
                                  num_labels=3),
        inputs=dict(input_ids=BERT_IDS, attention_mask=BERT_MASK, token_type_ids=BERT_TOKEN_TYPES)),
}

LORA_TARGETS = {"gpt2": ["c_attn"], "llama": ["q_proj", "v_proj"], "bert": ["query", "value"],
                "llama3": ["q_proj", "k_proj", "v_proj", "o_proj"], "qwen2": ["q_proj", "v_proj", "down_proj"]}


def lora_kwargs(model, **extra):
    """Common LoraConfig arguments: r=4, alpha=8, no dropout (so outputs are deterministic)."""
    kwargs = dict(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=LORA_TARGETS[model],
                  bias="none")
    if model == "gpt2":
        kwargs["fan_in_fan_out"] = True  # GPT-2's Conv1D stores W as [in, out]
    kwargs.update(extra)
    return kwargs


# Each adapter case: name (also its dir under adapters/), model, LoraConfig kwargs, seed, whether
# lora_B (and DoRA's magnitude) are perturbed after get_peft_model.
CASES = []
for _m in ("gpt2", "llama", "bert"):
    CASES.append(dict(name=f"{_m}-lora", model=_m, seed=2000, perturb=True,
                      kind="lora", lora=lora_kwargs(_m)))
    CASES.append(dict(name=f"{_m}-rslora", model=_m, seed=2001, perturb=True,
                      kind="rslora", lora=lora_kwargs(_m, use_rslora=True)))
    CASES.append(dict(name=f"{_m}-dora", model=_m, seed=2002, perturb=True,
                      kind="dora", lora=lora_kwargs(_m, use_dora=True)))
CASES += [
    dict(name="llama-lora-default-init", model="llama", seed=2003, perturb=False,
         kind="lora-default-init", lora=lora_kwargs("llama")),
    dict(name="llama-lora-patterns", model="llama", seed=2004, perturb=True, kind="lora-patterns",
         lora=lora_kwargs("llama", rank_pattern={"model.layers.1.self_attn.q_proj": 2},
                          alpha_pattern={"layers.0.self_attn.v_proj": 16})),
    dict(name="llama-lora-all-linear", model="llama", seed=2005, perturb=True,
         kind="lora-all-linear", lora=lora_kwargs("llama", target_modules="all-linear")),
    # Sequence classification as PEFT users run it: the classifier head is a full trainable copy
    # (modules_to_save); it is perturbed here too so that the adapter file must be read.
    dict(name="bert-lora-seqcls", model="bert", seed=2006, perturb=True, kind="lora-seq-cls",
         lora=lora_kwargs("bert", task_type="SEQ_CLS")),
    # Two adapters active at once (their branches add up): "default" on q,v and "second" on k,o.
    dict(name="llama-lora-two-adapters", model="llama", seed=2007, perturb=True,
         kind="lora-two-adapters", lora=lora_kwargs("llama"),
         second=lora_kwargs("llama", r=2, lora_alpha=4, target_modules=["k_proj", "o_proj"])),
    dict(name="llama3-lora", model="llama3", seed=2008, perturb=True, kind="lora",
         lora=lora_kwargs("llama3")),
    dict(name="qwen2-lora", model="qwen2", seed=2009, perturb=True, kind="lora",
         lora=lora_kwargs("qwen2")),
]


def tensor_inputs(inputs):
    return {k: torch.tensor(v, dtype=torch.long) for k, v in inputs.items()}


def load_base(out, model):
    spec = MODELS[model]
    # Relative path so that adapter_config.json's base_model_name_or_path is not machine-specific.
    return spec["cls"].from_pretrained(spec["dir"], attn_implementation="eager").eval()


@torch.no_grad()
def outputs_of(model, inputs):
    """(logits, last hidden state). The hidden state is the input of the head: after ln_f (GPT-2),
    after the final RMSNorm (Llama), the last encoder layer's output (BERT, before the pooler).
    The BERT classifier sees only the pooled first token, so its logits move little; the hidden
    state is the sharper check there."""
    out = model(**tensor_inputs(inputs), output_hidden_states=True)
    def f32(t):
        return t.detach().to(torch.float32).contiguous().clone()
    return f32(out.logits), f32(out.hidden_states[-1])


def logits_of(model, inputs):
    return outputs_of(model, inputs)[0]


@torch.no_grad()
def perturb(peft_model, seed):
    """Every lora_B <- randn * B_SCALE; DoRA magnitude m <- m * (1 + randn * MAGNITUDE_NOISE);
    a modules_to_save copy W <- W + randn * 0.02. Parameters visited in named_parameters order."""
    gen = torch.Generator().manual_seed(seed)
    for name, p in peft_model.named_parameters():
        if ".lora_B." in name:
            p.copy_(torch.randn(p.shape, generator=gen) * B_SCALE)
        elif ".lora_magnitude_vector." in name:
            p.mul_(1 + torch.randn(p.shape, generator=gen) * MAGNITUDE_NOISE)
        elif ".modules_to_save." in name:
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)


def adapted_module_names(peft_model):
    """Names (in the base model's namespace) of modules that carry a LoRA adapter."""
    prefix = "base_model.model."
    names = []
    for name, module in peft_model.named_modules():
        if hasattr(module, "lora_A") and len(getattr(module, "lora_A")) > 0:
            names.append(name[len(prefix):] if name.startswith(prefix) else name)
    return names


def default_init_stats(peft_model):
    """Statistics of PEFT's default init: A ~ kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)),
    B = 0. Per module: in/out, the bound, observed min/max/mean/std of A, max |B|."""
    stats = {}
    for name, module in peft_model.named_modules():
        if not (hasattr(module, "lora_A") and "default" in module.lora_A):
            continue
        a = module.lora_A["default"].weight.detach()
        b = module.lora_B["default"].weight.detach()
        in_features = a.shape[1]
        stats[strip(name)] = dict(
            a_shape=list(a.shape), b_shape=list(b.shape), in_features=in_features,
            kaiming_uniform_bound=1.0 / in_features ** 0.5,
            uniform_std=1.0 / (3 * in_features) ** 0.5,
            a_min=a.min().item(), a_max=a.max().item(), a_mean=a.mean().item(),
            a_std=a.std().item(), b_max_abs=b.abs().max().item())
    return stats


def save_model(out, model):
    spec = MODELS[model]
    torch.manual_seed(spec["seed"])
    net = spec["cls"](spec["config"]()).eval()
    target = out / spec["dir"]
    net.save_pretrained(target)  # transformers 5 always writes safetensors
    for extra in ("generation_config.json",):
        if (target / extra).exists():
            (target / extra).unlink()
    return net


def run_case(out, case, tensors, base_logits):
    model = case["model"]
    spec = MODELS[model]
    inputs = spec["inputs"]
    base = load_base(out, model)
    torch.manual_seed(case["seed"])  # lora_A's kaiming init draws from the global generator
    config = LoraConfig(**case["lora"])
    peft_model = get_peft_model(base, config)
    if "second" in case:
        peft_model.add_adapter("second", LoraConfig(**case["second"]))
        peft_model.base_model.set_adapter(["default", "second"])
    peft_model.eval()
    if case["perturb"]:
        perturb(peft_model, case["seed"] + 100000)

    key = case["name"]
    record = dict(name=key, kind=case["kind"], model=model, model_dir=spec["dir"],
                  adapter_dir=f"adapters/{key}", inputs=inputs,
                  lora_config=json_safe(case["lora"]), perturbed=case["perturb"],
                  base_logits_key=f"{model}/base/logits")
    if "second" in case:
        record["second_adapter_dir"] = f"adapters/{key}/second"
        record["second_lora_config"] = json_safe(case["second"])
        record["active_adapters"] = ["default", "second"]
    if case["perturb"]:
        record["perturbation"] = dict(
            generator_seed=case["seed"] + 100000, lora_B=f"randn * {B_SCALE}",
            lora_magnitude_vector=f"m * (1 + randn * {MAGNITUDE_NOISE})",
            modules_to_save="W + randn * 0.02", order="named_parameters()")
    else:
        record["default_init"] = dict(
            lora_A="kaiming_uniform_(a=sqrt(5)) = U(-bound, bound), bound = 1/sqrt(in_features)",
            lora_B="zeros", adapter_output_equals_base=True,
            modules=default_init_stats(peft_model))
    record["adapted_modules"] = adapted_module_names(peft_model)
    record["scaling"] = {n: dict(m.scaling) for n, m in peft_model.named_modules()
                         if hasattr(m, "scaling") and isinstance(m.scaling, dict) and m.scaling}
    record["scaling"] = {strip(n): v for n, v in record["scaling"].items()}

    adapter_logits, adapter_hidden = outputs_of(peft_model, inputs)
    tensors[f"{key}/adapter/logits"] = adapter_logits
    tensors[f"{key}/adapter/hidden"] = adapter_hidden
    record["base_hidden_key"] = f"{model}/base/hidden"
    record["adapter_logits_key"] = f"{key}/adapter/logits"
    record["adapter_hidden_key"] = f"{key}/adapter/hidden"
    record["max_abs_adapter_minus_base"] = (adapter_logits - base_logits).abs().max().item()
    record["max_abs_adapter_minus_base_hidden"] = (
        (adapter_hidden - tensors[f"{model}/base/hidden"]).abs().max().item())

    adapter_dir = out / "adapters" / key
    peft_model.save_pretrained(adapter_dir)
    for card in adapter_dir.rglob("README.md"):  # PEFT's model-card template: noise here
        card.unlink()
    for config_file in adapter_dir.rglob("adapter_config.json"):
        sort_target_modules(config_file)

    # Reload check: the saved adapter directory alone reproduces the adapter logits.
    reloaded = PeftModel.from_pretrained(load_base(out, model), str(adapter_dir)).eval()
    if "second" in case:
        reloaded.load_adapter(str(adapter_dir / "second"), adapter_name="second")
        reloaded.base_model.set_adapter(["default", "second"])
    reload_diff = (logits_of(reloaded, inputs) - adapter_logits).abs().max().item()
    assert reload_diff == 0.0, f"{key}: reloaded adapter differs by {reload_diff}"

    merged = peft_model.merge_and_unload()
    merged_logits, merged_hidden = outputs_of(merged, inputs)
    tensors[f"{key}/merged/logits"] = merged_logits
    tensors[f"{key}/merged/hidden"] = merged_hidden
    record["merged_logits_key"] = f"{key}/merged/logits"
    record["merged_hidden_key"] = f"{key}/merged/hidden"
    diff = (merged_logits - adapter_logits).abs().max().item()
    record["max_abs_merged_minus_adapter"] = diff
    record["max_abs_merged_minus_adapter_hidden"] = (merged_hidden - adapter_hidden).abs().max().item()
    assert diff < 1e-4, f"{key}: merged and unmerged logits differ by {diff}"
    merged_state = merged.state_dict()
    record["merged_weight_keys"] = {}
    for name in record["adapted_modules"]:
        wkey = f"{key}/merged/{name}.weight"
        tensors[wkey] = merged_state[f"{name}.weight"].detach().to(torch.float32).contiguous().clone()
        record["merged_weight_keys"][f"{name}.weight"] = wkey
    if case["kind"] == "lora-seq-cls":
        for name in ("classifier.weight", "classifier.bias"):
            wkey = f"{key}/merged/{name}"
            tensors[wkey] = merged_state[name].detach().to(torch.float32).contiguous().clone()
            record["merged_weight_keys"][name] = wkey
    return record


def sort_target_modules(config_file):
    """PEFT keeps target_modules as a Python set and writes it in hash order, which changes from
    run to run (PYTHONHASHSEED). Sort it so regeneration is byte-identical; nothing else changes
    (same key order and indent as PEFT, which writes json.dumps(indent=2, sort_keys=True))."""
    config = json.loads(config_file.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True))


def strip(name):
    prefix = "base_model.model."
    return name[len(prefix):] if name.startswith(prefix) else name


def json_safe(kwargs):
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in kwargs.items()}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sums(out):
    """SHA256SUMS over every file in {out} but itself and README.md; prints what was written."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name not in ("SHA256SUMS", "README.md"))
    (out / "SHA256SUMS").write_text("".join(f"{sha256(p)}  {p.relative_to(out)}\n" for p in files))
    print(f"wrote {len(files)} files, {sum(p.stat().st_size for p in files)} bytes, to {out}")


def deterministic_empty(out):
    """One torch thread, deterministic kernels, and {out} emptied (created if missing)."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)


def generate(out):
    deterministic_empty(out)
    cwd = os.getcwd()
    os.chdir(out)  # models are loaded by relative dir, see load_base
    try:
        tensors, models = {}, {}
        for model, spec in MODELS.items():
            save_model(out, model)
            base_logits, base_hidden = outputs_of(load_base(out, model), spec["inputs"])
            tensors[f"{model}/base/logits"] = base_logits
            tensors[f"{model}/base/hidden"] = base_hidden
            models[model] = dict(dir=spec["dir"], cls=spec["cls"].__name__, seed=spec["seed"],
                                 attn_implementation="eager", inputs=spec["inputs"],
                                 base_logits_key=f"{model}/base/logits",
                                 base_hidden_key=f"{model}/base/hidden",
                                 logits_shape=list(base_logits.shape),
                                 hidden_shape=list(base_hidden.shape))
        cases = [run_case(out, case, tensors, tensors[f"{case['model']}/base/logits"])
                 for case in CASES]
    finally:
        os.chdir(cwd)
    safetensors.torch.save_file(tensors, str(out / "expected.safetensors"),
                                metadata={"golden": GOLDEN_VERSION})
    index = dict(
        golden_version=GOLDEN_VERSION,
        generator="scripts/golden/make_peft_golden.py",
        versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                      transformers=transformers.__version__, peft=peft.__version__,
                      safetensors=safetensors.__version__, numpy=numpy.__version__),
        expected_file="expected.safetensors",
        tolerance_note=("float32 CPU; a Java port should match logits to ~1e-5 absolute; "
                        "merged vs unmerged differences are recorded per case"),
        models=models,
        cases=cases)
    (out / "cases.json").write_text(json.dumps(index, indent=2, sort_keys=False) + "\n")
    write_sums(out)


def cli(doc, default_out, golden_version, generate_into):
    """The command line of a golden script: regenerate into --out (keeping its README.md), or with
    --check regenerate into a temp dir and compare SHA256SUMS (byte-identical)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir and compare with --out's SHA256SUMS")
    args = parser.parse_args()
    if not args.check:
        readme = args.out / "README.md"
        saved = readme.read_text() if readme.exists() else None
        generate_into(args.out.resolve())
        if saved is not None:
            readme.write_text(saved)
        return
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / golden_version
        generate_into(fresh)
        old = (args.out / "SHA256SUMS").read_text()
        new = (fresh / "SHA256SUMS").read_text()
        if old != new:
            print("golden files differ from a fresh regeneration", file=sys.stderr)
            sys.exit(1)
        print("golden files reproduce byte-identically")


def main():
    cli(__doc__, DEFAULT_OUT, GOLDEN_VERSION, generate)


if __name__ == "__main__":
    main()
