#!/usr/bin/env python3
"""Loads an adapter directory written by the Java PeftAdapters.save with PEFT and prints the logits.

The other direction of the golden tests: PEFT (the reference) must read what Java writes, for
every PEFT type the Java side writes (LORA with use_rslora / use_dora, ADALORA, VERA), and LoRA
on embedding tables (lora_embedding_A/B).

  check_java_adapter.py DIR [--model MODEL_DIR] [--tokens 3,14,15] [--expect java_logits.json]

DIR holds adapter_config.json + adapter_model.safetensors. The base model is MODEL_DIR, or the
adapter config's base_model_name_or_path; for an adapter converted from PiSSA, MiLoRA, OLoRA or
CorDA it is the original base model (not the residual one). Prints JSON {"logits": [[...], ...]}
([seq, vocab] for one row of tokens). With --expect (a JSON file {"logits": ...} from the Java
side, written by WriteJavaAdapterMain or lora-variants' WriteVariantAdaptersMain) it also prints
the max abs difference and exits 1 above --tolerance.
Runs on CPU with the versions of scripts/python-requirements.txt (eager attention, 1 thread).
"""

import argparse
import json
import sys
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("adapter_dir")
    ap.add_argument("--model", help="base model directory (default: base_model_name_or_path)")
    ap.add_argument("--tokens", default="3,14,15,9,26,5,35")
    ap.add_argument("--expect", help="Java logits JSON to compare with")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    torch.set_num_threads(1)
    adapter_dir = Path(args.adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    model_dir = args.model or config.get("base_model_name_or_path")
    if not model_dir:
        sys.exit("no --model given and the adapter config has no base_model_name_or_path")
    base = AutoModelForCausalLM.from_pretrained(model_dir, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    ids = torch.tensor([[int(t) for t in args.tokens.split(",")]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    result = {"logits": logits.tolist()}
    if args.expect:
        java = torch.tensor(json.loads(Path(args.expect).read_text())["logits"], dtype=torch.float32)
        diff = (java.reshape(logits.shape) - logits).abs().max().item()
        with torch.no_grad():
            with model.disable_adapter():
                base_logits = model(input_ids=ids).logits[0]
        result["max_abs_diff_vs_java"] = diff
        result["max_abs_adapter_minus_base"] = (logits - base_logits).abs().max().item()
        result["peft_type"] = str(model.peft_config["default"].peft_type.value)
        # the module of each adapter's first per-module parameter (LoRA/AdaLoRA A, an embedding
        # table's lora_embedding_A, VeRA lambda_d)
        markers = (".lora_A.default", ".lora_embedding_A.default", ".vera_lambda_d.default")
        result["adapted_modules"] = sorted({
            n[: n.index(m)][len("base_model.model."):]
            for n, _ in model.named_parameters() for m in markers if m in n})
    print(json.dumps(result))
    if args.expect and result["max_abs_diff_vs_java"] > args.tolerance:
        sys.exit(1)


if __name__ == "__main__":
    main()
