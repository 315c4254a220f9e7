#!/usr/bin/env python3
"""Peak memory and step time of fine-tuning with PyTorch + PEFT: the peer of
`./lora memory --measure` at the Qwen2.5-0.5B shape.

Each case runs in a process of its own (this script started again with --case), so one case's
peak cannot reach the next one's:

  full      : Qwen2ForCausalLM in fp32, every parameter trainable
  lora-fp32 : fp32 base, peft LoraConfig(r, alpha = 2r, dropout 0, target_modules="all-linear")
  lora-bf16 : bf16 base (weights stored in bfloat16), the same LoRA (PEFT keeps adapter weights
              in fp32), forward and backward under torch.autocast("cpu", dtype=torch.bfloat16)

The model: Qwen2.5-0.5B's published config.json (24 layers, hidden 896, 14 heads / 2 key-value
heads, FFN 4864, vocab 151936, q/k/v biases, tied embeddings) with random weights as transformers
initialises them (N(0, 0.02^2)), built directly in the base dtype so that no fp32 copy of a bf16
model ever exists; or, with --model DIR, a Hugging Face directory (e.g. one written by
`./lora init-model --card qwen2.5-0.5b --dtype bf16 --out DIR`) loaded with from_pretrained.
Loss: causal-LM cross-entropy (labels = input ids), one batch of random tokens (fixed seed)
reused every step; AdamW(lr 1e-4); torch.set_num_threads(--threads).

Per case it prints, from /proc/self/status: the resident set after the model is loaded
(`rss_after_load`), the whole-run peak (VmHWM at the end, `peak_rss`) and the peak over the loaded
model (`peak_rss - rss_after_load`), the median step time of the steps after the first, and the
CPU time of every step (all threads; on a loaded machine the wall time measures the load too).

Usage (from the repository root; needs torch, transformers, peft: the venv of scripts/setup-python.sh):
    python scripts/bench/peft_memory.py                      # all three cases
    python scripts/bench/peft_memory.py --cases lora-fp32,lora-bf16 --steps 4
    python scripts/bench/peft_memory.py --model q05 --json out.json   # q05 from ./lora init-model

Step times depend on what else runs on the machine: report the load beside them.
"""
import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

CASES = ("full", "lora-fp32", "lora-bf16")

# Qwen2.5-0.5B's config.json (the fields that shape the model)
QWEN25_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                  rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True, hidden_act="silu",
                  use_sliding_window=False, sliding_window=32768, max_window_layers=24, attention_dropout=0.0,
                  initializer_range=0.02)


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def build(case, model_dir, rank):
    import torch
    dtype = torch.bfloat16 if case == "lora-bf16" else torch.float32
    if model_dir:
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    else:
        from transformers import Qwen2Config, Qwen2ForCausalLM
        torch.manual_seed(0)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            model = Qwen2ForCausalLM(Qwen2Config(**QWEN25_05B))
        finally:
            torch.set_default_dtype(previous)
    return model


def run_case(args):
    import torch
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = build(args.case, args.model, args.rank)
    load_s = time.perf_counter() - t0
    gc.collect()
    rss_after_load = status("VmRSS")
    if args.case == "full":
        params = [p for p in model.parameters()]
    else:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                                                 target_modules="all-linear"))
        params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    trainable_dtypes = sorted({str(p.dtype) for p in params})
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, QWEN25_05B["vocab_size"], (args.batch, args.seq), generator=g)
    times, cpu_times = [], []
    for _ in range(args.steps):
        t = time.perf_counter()
        c = time.process_time()
        if args.case == "lora-bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(input_ids=ids, labels=ids).loss
        else:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
    peak = status("VmHWM")
    return dict(case=args.case, model=args.model or "qwen2.5-0.5b shape, random init", rank=args.rank,
                batch=args.batch, seq=args.seq, threads=args.threads, trainable_params=trainable,
                trainable_dtypes=trainable_dtypes, rss_after_load=rss_after_load, peak_rss=peak,
                peak_rss_over_loaded=peak - rss_after_load, load_seconds=load_s, step_seconds=times,
                step_seconds_median=statistics.median(times[1:] if len(times) > 1 else times),
                step_cpu_seconds=cpu_times,
                loss=float(loss), torch=torch.__version__)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(CASES), help="comma list of " + ", ".join(CASES))
    p.add_argument("--model", default=None, help="Hugging Face directory instead of the built-in shape")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="also write the rows to this file")
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)  # one case, in this process
    args = p.parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return
    rows = []
    for case in args.cases.split(","):
        if case not in CASES:
            sys.exit(f"--cases: '{case}' is not one of {', '.join(CASES)}")
        cmd = [sys.executable, os.path.abspath(__file__), "--case", case, "--rank", str(args.rank),
               "--batch", str(args.batch), "--seq", str(args.seq), "--steps", str(args.steps),
               "--threads", str(args.threads)] + (["--model", args.model] if args.model else [])
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    gb = 1e9
    print(f"{'case':<10} {'trainable':>12} {'loaded GB':>10} {'peak GB':>8} {'over loaded GB':>15} {'step s':>7}"
          f" {'step CPU s':>10}")
    for r in rows:
        print(f"{r['case']:<10} {r['trainable_params']:>12,} {r['rss_after_load'] / gb:>10.2f} "
              f"{r['peak_rss'] / gb:>8.2f} {r['peak_rss_over_loaded'] / gb:>15.2f} {r['step_seconds_median']:>7.2f} {r['step_cpu_seconds'][-1]:>10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
