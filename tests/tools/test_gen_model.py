#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rb-gen-model end to end: generated files have the recipe's shapes and
types (checked by gen_model_check), are deterministic for a seed whatever the
thread count, and run through `rosenblatt run`.

Usage: test_gen_model.py BIN_DIR TESTS_DIR DATA_DIR OUT_DIR [EMULATOR...]"""
import filecmp
import os
import subprocess
import sys

BIN, TESTS, DATA, OUT = sys.argv[1:5]
EMU = [a for a in sys.argv[5:] if a]
QUICK = os.environ.get("RB_TEST_QUICK", "0") not in ("", "0")
STORIES_VOCAB = os.path.join(DATA, "stories260K", "stories260K-f32.gguf")
failures = 0


def run(args, **kw):
    return subprocess.run(EMU + args, capture_output=True, encoding="utf-8", errors="replace",
                          timeout=600, **kw)


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    else:
        print("ok:", what)


def gen(name, *args):
    path = os.path.join(OUT, name)
    r = run([os.path.join(BIN, "rb-gen-model"), "-o", path] + list(args))
    check(r.returncode == 0, f"rb-gen-model {name} {' '.join(args)}: {r.stderr[-300:]}")
    return path


def verify(path, ftype, layers, embd, ff, heads, kv_heads, tied):
    r = run([os.path.join(TESTS, "gen_model_check"), path, ftype, str(layers), str(embd),
             str(ff), str(heads), str(kv_heads), "1" if tied else "0"])
    check(r.returncode == 0, f"recipe/shapes/logits of {os.path.basename(path)}\n"
          + r.stdout[-500:] + r.stderr[-1500:])


os.makedirs(OUT, exist_ok=True)
small = ["--vocab", STORIES_VOCAB]  # 512 tokens: fast under emulation

# Q4_K_M over 28 layers (the Qwen2.5-1.5B depth; 8 under emulation, the K-quant
# quantizers are slow there) with small matrices: attn_v and ffn_down types
# follow llama.cpp's layer pattern.
layers = 8 if QUICK else 28
shape = ["--layers", str(layers), "--embd", "256", "--ff", "256", "--heads", "4",
         "--kv-heads", "2", "--ctx", "128"]
p = gen("g-layers.gguf", "--type", "q4_k_m", *small, *shape)
verify(p, "q4_k_m", layers, 256, 256, 4, 2, True)

for ftype in (["q8_0"] if QUICK else ["f32", "f16", "q8_0"]):
    p = gen(f"g-{ftype}.gguf", "--type", ftype, "--preset", "tiny", *small)
    verify(p, ftype, 2, 256, 512, 4, 2, True)
if not QUICK:
    p = gen("g-untied.gguf", "--type", "q4_k_m", "--preset", "tiny", "--untied", *small)
    verify(p, "q4_k_m", 2, 256, 512, 4, 2, False)

# Determinism: same seed, other thread count -> identical bytes; other seed differs.
det = ["--preset", "tiny"] + (["--type", "q8_0"] if QUICK else [])
a = gen("d1.gguf", *det, "--seed", "7", "-t", "1", *small)
b = gen("d2.gguf", *det, "--seed", "7", "-t", "2", *small)
c = gen("d3.gguf", *det, "--seed", "8", "-t", "2", *small)
check(filecmp.cmp(a, b, shallow=False), "same seed, 1 vs 2 threads: identical files")
check(not filecmp.cmp(a, c, shallow=False), "another seed: another file")

# End to end with the CLI.
r = run([os.path.join(BIN, "rosenblatt"), "run", "-m", a, "-p", "Once upon a time", "-n", "12",
         "--temp", "0", "-t", "1"])
check(r.returncode == 0 and r.stdout.startswith("Once upon a time") and
      len(r.stdout) > len("Once upon a time") + 4 and "generation: 12 tokens" in r.stderr,
      f"rosenblatt run on a generated model: {r.stdout[:200]!r} {r.stderr[-300:]}")

# Bad arguments: clear message, usage exit code, nothing written.
r = run([os.path.join(BIN, "rb-gen-model"), "-o", os.path.join(OUT, "bad.gguf"),
         "--heads", "5"])
check(r.returncode == 2 and "heads" in r.stderr and
      not os.path.exists(os.path.join(OUT, "bad.gguf")), "bad head count refused")
r = run([os.path.join(BIN, "rb-gen-model"), "-o", os.path.join(OUT, "bad.gguf"),
         "--vocab", "/nonexistent.gguf"])
check(r.returncode == 1 and "/nonexistent.gguf" in r.stderr, "missing vocabulary file")

if not QUICK:
    # The real Qwen2 vocabulary (151,936 tokens) and its ChatML template.
    q = gen("qwen-tiny.gguf", "--preset", "tiny", "--type", "q4_k_m")
    verify(q, "q4_k_m", 2, 256, 512, 4, 2, True)
    r = run([os.path.join(BIN, "rosenblatt"), "chat", "-m", q, "-n", "6", "-t", "1",
             "--seed", "1"], input="Hello!\nHow are you?\n")
    check(r.returncode == 0 and "chatml" in r.stderr and r.stdout.count("\n") >= 2,
          f"chat on a generated Qwen2 model: {r.stdout[:200]!r} {r.stderr[-300:]}")

for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
print("FAILED" if failures else "ok", f"({failures} failures)")
sys.exit(1 if failures else 0)
