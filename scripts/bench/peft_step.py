#!/usr/bin/env python3
"""Side-by-side step times: PyTorch + PEFT against `./lora bench step` (ND4J), same shapes.

For each (arch, mode) this script builds, with transformers and peft on the CPU, the model that
`lora bench step` builds (see dev.loraj.bench.step.StepBench):

  bert : BertForSequenceClassification, 6 layers, hidden 384, 12 heads, FFN 1536, vocab 30522,
         512 positions, 2 labels, dropout 0 (the Java BERT applies none); loss: cross-entropy
  bert-base: the same with BERT-base's shape: 12 layers, hidden 768, FFN 3072 (--arch bert-base);
  llama: LlamaForCausalLM, 4 layers, hidden 512, 8 heads, FFN 1376, vocab 32000, untied head;
         loss: causal-LM cross-entropy (labels = input ids)
  lora   : an adapter of each --variants entry (default lora: peft LoraConfig(r, alpha = 2r,
           dropout 0)) on query,value (q_proj,v_proj) or --targets; BERT's classifier trained
           too (modules_to_save), as on the Java side (`lora bench step --variant NAME`).
           Variants PEFT has, as PEFT writes them (VARIANTS below): lora, dora (use_dora),
           rslora (use_rslora), pissa / olora (init_lora_weights), loraplus (PEFT's LoRA+
           optimizer, B's learning rate x16), lora-fa (A frozen; PEFT's LoRA-FA optimizer
           also projects B's gradient), vera (VeraConfig, r as given), adalora (AdaLoraConfig,
           init_r = r, target_r = r/2, total_step = warmup + steps)
  full   : every parameter trainable
  forward: the base model under torch.no_grad()

Attention is transformers' default (sdpa) unless --attn eager.

AdamW(lr 1e-4, weight decay 0.01), one batch of random tokens (fixed seed) reused every step,
torch.set_num_threads(N); it times `warmup` untimed then `steps` timed steps and takes the
median. It then runs `./lora bench step ... --json` for the same shape (with OMP_NUM_THREADS=N)
and prints a table: Java ms, PyTorch ms, Java/PyTorch, and LoRA/full per side.

Usage (from the repository root; needs torch, transformers, peft: the venv of scripts/setup-python.sh):
    python scripts/bench/peft_step.py                      # bert+llama x lora/full/forward, b8 s128 r8, 1 thread
    python scripts/bench/peft_step.py --arch bert --modes lora,full --batch 4 --seq 64 --threads 2
    python scripts/bench/peft_step.py --no-java            # PyTorch side only
    python scripts/bench/peft_step.py --modes lora --variants lora,dora,vera --targets query,key,value
    python scripts/bench/peft_step.py --json results.json  # also write every row as JSON

The Java build does not depend on this script.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


VARIANTS = ("lora", "dora", "rslora", "pissa", "olora", "loraplus", "lora-fa", "vera", "adalora")


def peft_config(variant, rank, targets, save, total_steps):
    """The PEFT config of one of VARIANTS at rank r, alpha 2r, no dropout."""
    import peft
    common = dict(target_modules="all-linear" if targets == ["all-linear"] else targets, modules_to_save=save)
    if variant == "vera":
        return peft.VeraConfig(r=rank, vera_dropout=0.0, **common)
    if variant == "adalora":
        return peft.AdaLoraConfig(init_r=rank, target_r=max(1, rank // 2), lora_alpha=2 * rank,
                                  lora_dropout=0.0, total_step=total_steps, **common)
    extra = {"dora": dict(use_dora=True), "rslora": dict(use_rslora=True),
             "pissa": dict(init_lora_weights="pissa"), "olora": dict(init_lora_weights="olora")}
    return peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, **extra.get(variant, {}), **common)


def build_model(arch, mode, rank, seed, attn=None, variant="lora", targets=None, total_steps=13):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    if arch in ("bert", "bert-base"):
        hidden, layers, ffn = (384, 6, 1536) if arch == "bert" else (768, 12, 3072)
        cfg = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=12,
                         intermediate_size=ffn, hidden_act="gelu", max_position_embeddings=512,
                         type_vocab_size=2, layer_norm_eps=1e-12, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0, num_labels=2)
        if attn:
            cfg._attn_implementation = attn
        model = BertForSequenceClassification(cfg)
        targets, save = targets or ["query", "value"], ["classifier"]
    else:
        cfg = LlamaConfig(vocab_size=32000, hidden_size=512, num_hidden_layers=4, num_attention_heads=8,
                          num_key_value_heads=8, intermediate_size=1376, hidden_act="silu",
                          max_position_embeddings=2048, rms_norm_eps=1e-6, rope_theta=10000.0,
                          tie_word_embeddings=False, attention_dropout=0.0)
        if attn:
            cfg._attn_implementation = attn
        model = LlamaForCausalLM(cfg)
        targets, save = targets or ["q_proj", "v_proj"], None
    if mode == "lora":
        from peft import get_peft_model
        model = get_peft_model(model, peft_config(variant, rank, targets, save, total_steps))
        if variant == "lora-fa":
            for name, p in model.named_parameters():
                if "lora_A" in name:
                    p.requires_grad_(False)
    return model


def optimizer(model, variant):
    """AdamW(lr 1e-4, weight decay 0.01); LoRA+ through PEFT's own optimizer factory."""
    import torch
    if variant == "loraplus":
        from peft.optimizers import create_loraplus_optimizer
        return create_loraplus_optimizer(model, optimizer_cls=torch.optim.AdamW, lr=1e-4,
                                         loraplus_lr_ratio=16, weight_decay=0.01)
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)


def batch(arch, b, s, seed):
    import torch
    g = torch.Generator().manual_seed(seed + 2)
    vocab = 32000 if arch == "llama" else 30522
    ids = torch.randint(0, vocab, (b, s), generator=g)
    if arch != "llama":
        return dict(input_ids=ids, attention_mask=torch.ones_like(ids),
                    token_type_ids=torch.zeros_like(ids), labels=torch.randint(0, 2, (b,), generator=g))
    return dict(input_ids=ids, labels=ids)


def torch_step_ms(arch, mode, b, s, rank, threads, steps, warmup, seed, attn=None, variant="lora", targets=None):
    import torch
    torch.set_num_threads(threads)
    model = build_model(arch, mode, rank, seed, attn, variant, targets, warmup + steps)
    inputs = batch(arch, b, s, seed)
    times = []
    if mode == "forward":
        model.eval()
        fwd = {k: v for k, v in inputs.items() if k != "labels"}
        with torch.no_grad():
            for i in range(warmup + steps):
                t0 = time.perf_counter()
                model(**fwd).logits.sum().item()
                times.append((time.perf_counter() - t0) * 1e3)
    else:
        model.train()
        opt = optimizer(model, variant if mode == "lora" else None)
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            loss = model(**inputs).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss.item()
            times.append((time.perf_counter() - t0) * 1e3)
    timed = times[warmup:]
    return statistics.median(timed), timed


def torch_blas():
    """PyTorch's BLAS and the instruction set its kernels use, e.g. 'mkl, AVX512'."""
    import torch
    blas = "mkl" if torch.backends.mkl.is_available() else "openblas or other"
    return "%s, %s" % (blas, torch.backends.cpu.get_cpu_capability())


def java_step(arch, mode, b, s, rank, threads, steps, warmup, seed, variant="lora", targets=None):
    # --threads N: GEMMs and the Vector API kernels on N threads; libnd4j's element-wise loops
    # stay on OMP_NUM_THREADS (the launcher's default, 1, unless set in the environment)
    env = dict(os.environ)
    env.setdefault("LORA_JAVA_OPTS", "-Xmx3g -Dorg.bytedeco.javacpp.maxbytes=6G"
                   " -Dorg.bytedeco.javacpp.maxphysicalbytes=8G")
    cmd = [os.path.join(ROOT, "lora"), "bench", "step", "--arch", arch, "--mode", mode,
           "--batch", str(b), "--seq", str(s), "--rank", str(rank), "--threads", str(threads),
           "--steps", str(steps), "--warmup", str(warmup), "--seed", str(seed), "--json"]
    if mode == "lora":
        cmd += ["--variant", variant] + (["--targets", ",".join(targets)] if targets else [])
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    return json.loads(line)


def ratio(a, b):
    return a / b if a and b else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="bert,llama")
    ap.add_argument("--modes", default="lora,full,forward")
    ap.add_argument("--variants", default="lora", help="adapters of mode lora, comma-separated, from: "
                    + ", ".join(VARIANTS))
    ap.add_argument("--targets", help="target modules, comma-separated (default: query,value / q_proj,v_proj)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attn", help="transformers attention implementation (default: theirs, sdpa;"
                    " 'eager' computes softmax(QK^T)V explicitly, as the Java graph does)")
    ap.add_argument("--no-java", action="store_true", help="PyTorch side only")
    ap.add_argument("--json", help="write all rows to this file")
    a = ap.parse_args()
    if a.steps < 1:
        sys.exit("--steps = %d: must be >= 1" % a.steps)
    variants = a.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            sys.exit("--variants: '%s' is not one of %s" % (v, ", ".join(VARIANTS)))
    targets = a.targets.split(",") if a.targets else None
    import torch, transformers, peft
    print("torch %s, transformers %s, peft %s; threads %d; batch %d seq %d rank %d; median of %d steps after %d"
          % (torch.__version__, transformers.__version__, peft.__version__, a.threads, a.batch, a.seq, a.rank,
             a.steps, a.warmup), flush=True)
    rows = []
    for arch in a.arch.split(","):
        for mode in a.modes.split(","):
            for variant in (variants if mode == "lora" else [None]):
                pt, pt_all = torch_step_ms(arch, mode, a.batch, a.seq, a.rank, a.threads, a.steps, a.warmup,
                                           a.seed, a.attn, variant, targets)
                jv = None if a.no_java else java_step(arch, mode, a.batch, a.seq, a.rank, a.threads, a.steps,
                                                      a.warmup, a.seed, variant, targets)
                row = dict(arch=arch, mode=mode if variant is None else variant, batch=a.batch, seq=a.seq,
                           rank=a.rank, threads=a.threads, torch_ms=pt, torch_step_ms=pt_all,
                           java_ms=jv["step_ms_median"] if jv else None,
                           java_step_ms=jv["step_ms"] if jv else None,
                           java_blas_core=jv.get("blas_core") if jv else None,
                           torch_blas=torch_blas())
                rows.append(row)
                print("  %s %s: PyTorch %.1f ms (%s)%s" % (arch, row["mode"], pt, row["torch_blas"],
                                                           "" if jv is None else ", Java %.1f ms (OpenBLAS %s)"
                                                           % (row["java_ms"], row["java_blas_core"])), flush=True)
    print()
    print("| arch | mode or variant | shape (b x s, r) | Java ms | PyTorch ms | Java/PyTorch |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        j = "-" if r["java_ms"] is None else "%.1f" % r["java_ms"]
        print("| %s | %s | %d x %d, r=%d | %s | %.1f | %.2f |" % (r["arch"], r["mode"], r["batch"], r["seq"], r["rank"],
                                                              j, r["torch_ms"], ratio(r["java_ms"], r["torch_ms"])))
    print()
    print("| arch | LoRA/full Java | LoRA/full PyTorch | forward/full Java | forward/full PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for arch in a.arch.split(","):
        by = {r["mode"]: r for r in rows if r["arch"] == arch}
        if "full" not in by:
            continue
        f = by["full"]
        cells = []
        for m in ("lora", "forward"):
            r = by.get(m)
            cells.append(ratio(r["java_ms"], f["java_ms"]) if r else float("nan"))
            cells.append(ratio(r["torch_ms"], f["torch_ms"]) if r else float("nan"))
        print("| %s | %.2f | %.2f | %.2f | %.2f |" % (arch, *cells))
    others = [v for v in variants if v != "lora"]
    if "lora" in variants and others:
        print()
        print("| arch | variant | variant/LoRA Java | variant/LoRA PyTorch |")
        print("|---|---|---:|---:|")
        for arch in a.arch.split(","):
            by = {r["mode"]: r for r in rows if r["arch"] == arch}
            for v in others:
                if v in by and "lora" in by:
                    print("| %s | %s | %.2f | %.2f |" % (arch, v, ratio(by[v]["java_ms"], by["lora"]["java_ms"]),
                                                         ratio(by[v]["torch_ms"], by["lora"]["torch_ms"])))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
