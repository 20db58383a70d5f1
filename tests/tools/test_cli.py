#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The `rosenblatt` command line: help, errors and exit codes, the output
formats other tools rely on (tokenize --ids, info, bench --json), a full
context, streaming generation.

Usage: test_cli.py BIN_DIR DATA_DIR OUT_DIR [EMULATOR...]"""
import json
import os
import re
import struct
import subprocess
import sys

BIN, DATA, OUT = sys.argv[1:4]
EMU = [a for a in sys.argv[4:] if a]
RB = os.path.join(BIN, "rosenblatt")
STORIES = os.path.join(DATA, "stories260K", "stories260K-f32.gguf")
failures = 0


def rb(*args, stdin=None):
    return subprocess.run(EMU + [RB] + list(args), capture_output=True, encoding="utf-8",
                          errors="replace", timeout=600, input=stdin)


def check(cond, what, r=None):
    global failures
    if cond:
        print("ok:", what)
        return
    failures += 1
    print("FAIL:", what)
    if r is not None:
        print("  exit", r.returncode, "\n  stdout:", r.stdout[-800:],
              "\n  stderr:", r.stderr[-800:])


def clean_exit(r):
    """Exited by itself (no signal, no sanitizer report)."""
    return r.returncode >= 0 and "Sanitizer" not in r.stderr and "runtime error" not in r.stderr


os.makedirs(OUT, exist_ok=True)

# --help everywhere, exit 0, usage on stdout.
r = rb("--help")
check(r.returncode == 0 and "Usage: rosenblatt COMMAND" in r.stdout, "rosenblatt --help", r)
for cmd in ("run", "chat", "info", "bench", "tokenize"):
    r = rb(cmd, "--help")
    check(r.returncode == 0 and f"rosenblatt {cmd}" in r.stdout, f"{cmd} --help", r)
r = rb()
check(r.returncode == 2 and "Usage" in r.stderr, "no command: usage on stderr, exit 2", r)
r = rb("frobnicate")
check(r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr, "unknown command", r)
r = rb("run", "-m", STORIES, "--bogus")
check(r.returncode == 2 and "--bogus" in r.stderr, "unknown option, exit 2", r)
r = rb("run", "-m", STORIES, "--temp", "hot")
check(r.returncode == 2 and "hot" in r.stderr, "bad option value, exit 2", r)
r = rb("run", "-p", "x")
check(r.returncode == 2 and "-m" in r.stderr, "missing model, exit 2", r)

# Bad model files: exit 1, a message naming the file and the problem.
r = rb("run", "-m", "/nonexistent/model.gguf", "-p", "x")
check(r.returncode == 1 and "/nonexistent/model.gguf" in r.stderr, "bad model path", r)

with open(STORIES, "rb") as f:
    blob = f.read()
trunc = os.path.join(OUT, "truncated.gguf")
with open(trunc, "wb") as f:
    f.write(blob[: len(blob) // 2])
r = rb("run", "-m", trunc, "-p", "x", "-n", "4")
check(r.returncode == 1 and clean_exit(r) and "truncated.gguf" in r.stderr,
      "truncated model file: clean error", r)
tiny = os.path.join(OUT, "header-only.gguf")
with open(tiny, "wb") as f:
    f.write(blob[:24])
r = rb("info", tiny)
check(r.returncode == 1 and clean_exit(r) and "error" in r.stderr, "info on a cut header", r)


def with_arch(arch):
    """The stories file with general.architecture replaced (same length)."""
    key = b"general.architecture"
    i = blob.index(key) + len(key)
    vtype, n = struct.unpack_from("<IQ", blob, i)
    assert vtype == 8 and n == len(arch)
    j = i + 12
    return blob[:j] + arch.encode() + blob[j + n:]


foreign = os.path.join(OUT, "mamba.gguf")
with open(foreign, "wb") as f:
    f.write(with_arch("mamba"))
r = rb("run", "-m", foreign, "-p", "x")
check(r.returncode == 1 and "architecture 'mamba'" in r.stderr and "not supported" in r.stderr,
      "unsupported architecture named", r)

# Generation: streaming text to stdout, timings to stderr.
r = rb("run", "-m", STORIES, "-p", "Once upon a time", "-n", "24", "--temp", "0", "-t", "1")
check(r.returncode == 0 and r.stdout.startswith("Once upon a time, there was a little girl")
      and re.search(r"generation: 24 tokens in [0-9.]+ s, [0-9.]+ tok/s", r.stderr)
      and "prompt:" in r.stderr and "load:" in r.stderr, "run greedy", r)
r2 = rb("run", "-m", STORIES, "-p", "Once upon a time", "-n", "24", "--temp", "0", "-t", "2",
        "--backend", "ref", "--kv-type", "f32")
check(r2.returncode == 0 and r2.stdout == r.stdout, "same text with ref backend, f32 KV", r2)
r = rb("run", "-m", STORIES, "-p", "Once upon a time", "-n", "20", "--seed", "5", "--temp",
       "1.0", "--top-k", "0", "--top-p", "0.9", "--min-p", "0.01", "--repeat-penalty", "1.1")
r2 = rb("run", "-m", STORIES, "-p", "Once upon a time", "-n", "20", "--seed", "5", "--temp",
        "1.0", "--top-k", "0", "--top-p", "0.9", "--min-p", "0.01", "--repeat-penalty", "1.1")
check(r.returncode == 0 and r.stdout == r2.stdout and "seed: 5" in r.stderr,
      "sampling is deterministic for a seed", r2)
r2 = rb("run", "-m", STORIES, "-p", "Once upon a time", "-n", "20", "--seed", "6", "--temp",
        "1.0", "--top-k", "0", "--top-p", "0.9", "--min-p", "0.01", "--repeat-penalty", "1.1")
check(r2.returncode == 0 and r2.stdout != r.stdout and "seed: 6" in r2.stderr,
      "another seed samples another text", r2)
prompt_file = os.path.join(OUT, "prompt.txt")
with open(prompt_file, "w") as f:
    f.write("Once upon a time")
r2 = rb("run", "-m", STORIES, "-f", prompt_file, "-n", "20", "--seed", "5", "--temp", "1.0",
        "--top-k", "0", "--top-p", "0.9", "--min-p", "0.01", "--repeat-penalty", "1.1")
check(r2.returncode == 0 and r2.stdout == r.stdout, "prompt from a file (-f)", r2)

# Context full: -c 16 with a long -n stops cleanly with a message.
r = rb("run", "-m", STORIES, "-p", "Once upon a time", "-c", "16", "-n", "100", "--temp", "0")
check(r.returncode == 0 and clean_exit(r) and "context full" in r.stderr
      and "16 of 16" in r.stderr and "generation: 12 tokens" in r.stderr,
      "context full stops generation cleanly", r)
r = rb("run", "-m", STORIES, "-p", "Once upon a time " * 10, "-c", "16", "-n", "4")
check(r.returncode == 1 and "does not fit" not in r.stderr and "more than the context" in r.stderr,
      "prompt longer than the context refused", r)

# tokenize: ids on one line, space separated; no BOS unless --add-special.
r = rb("tokenize", "-m", STORIES, "-p", "Once upon a time", "--ids")
check(r.returncode == 0 and re.fullmatch(r"\d+( \d+)*\n", r.stdout) is not None,
      "tokenize --ids format", r)
ids = r.stdout.split()
r2 = rb("tokenize", "-m", STORIES, "-p", "Once upon a time", "--ids", "--add-special")
check(r2.returncode == 0 and r2.stdout.split() == ["1"] + ids, "--add-special adds BOS (1)", r2)
r3 = rb("tokenize", "-m", STORIES, "-p", "Once upon a time")
lines = r3.stdout.splitlines()
check(r3.returncode == 0 and len(lines) == len(ids) and
      all(re.fullmatch(r"\s*(\d+) -> '.*'", l) for l in lines) and
      [re.match(r"\s*(\d+)", l).group(1) for l in lines] == ids, "tokenize pieces format", r3)
r4 = rb("tokenize", "-m", STORIES, "--ids", stdin="Once upon a time")
check(r4.returncode == 0 and r4.stdout == r.stdout, "tokenize reads stdin", r4)

# info: metadata, tensor table and the model summary.
r = rb("info", STORIES)
check(r.returncode == 0 and "general.architecture" in r.stdout
      and "blk.4.ffn_down.weight" in r.stdout and re.search(r"model: llama, 5 layers, embedding 64", r.stdout) is not None, "info", r)
r = rb("info", os.path.join(DATA, "tokenizers", "llama-spm-vocab.gguf"))
check(r.returncode == 0 and "model: none" in r.stdout, "info on a vocabulary-only file", r)
r = rb("info", foreign)
check(r.returncode == 0 and "not runnable" in r.stdout and "mamba" in r.stdout,
      "info on an unsupported model says why", r)

# bench: table and JSON.
r = rb("bench", "-m", STORIES, "-p", "8,16", "-n", "4", "-r", "2", "--json", "-t", "1")
ok = r.returncode == 0
try:
    rows = json.loads(r.stdout)
    tests = [row["test"] for row in rows]
    ok = ok and tests == ["pp8", "pp16", "tg4"] and all(
        row["avg_ts"] > 0 and len(row["samples_ts"]) == 2 and row["n_threads"] == 1 for row in rows)
except (ValueError, KeyError, TypeError):
    ok = False
check(ok, "bench --json parses, one entry per test", r)
r = rb("bench", "-m", STORIES, "-p", "8", "-n", "0", "-r", "1")
check(r.returncode == 0 and re.search(r"\| +pp8 \| +[0-9.]+ ± [0-9.]+ \|", r.stdout) is not None,
      "bench table", r)
r = rb("bench", "-m", STORIES, "-p", "1024")
check(r.returncode == 2 and "context" in r.stderr, "bench longer than the model context", r)

# chat: a model without a chat template is refused with a message, unless the
# format is named; then a two-turn conversation runs.
r = rb("chat", "-m", STORIES, stdin="hello\n")
check(r.returncode == 1 and clean_exit(r) and "chat" in r.stderr, "chat without a template", r)
r = rb("chat", "-m", STORIES, "--chat-format", "llama2", "-n", "8", "--temp", "0", "-c", "128",
       stdin="Tell me a story.\nAnd then?\n")
check(r.returncode == 0 and clean_exit(r) and "llama2 format" in r.stderr and
      r.stdout.count("\n") >= 2 and "generation:" in r.stderr, "chat --chat-format llama2", r)
r = rb("chat", "-m", STORIES, "--chat-format", "llama2", "-c", "24", "--temp", "0",
       stdin="Tell me a long story about a dog and a cat.\nMore!\nMore!\n")
check(r.returncode == 0 and clean_exit(r) and "context full" in r.stderr, "chat: context full", r)
r = rb("chat", "-m", STORIES, "--chat-format", "klingon", stdin="hi\n")
check(r.returncode == 1 and "klingon" in r.stderr, "chat: unknown format named", r)

# chat keeps the conversation in the KV cache: each greedy reply equals what
# `run` gives on the whole conversation rendered as text (ChatML, BPE: no
# leading-space token between pieces), also when -n cuts the first reply
# (its last token must reach the cache before the next turn).
qwen = os.path.join(OUT, "micro-qwen2.gguf")
g = subprocess.run(EMU + [os.path.join(BIN, "rb-gen-model"), "-o", qwen, "--type", "q8_0",
                          "--embd", "128", "--layers", "2", "--ff", "128", "--heads", "4",
                          "--kv-heads", "2", "--ctx", "128", "--vocab",
                          os.path.join(DATA, "tokenizers", "qwen2-vocab.gguf")],
                   capture_output=True, encoding="utf-8", errors="replace", timeout=600)
check(g.returncode == 0, "rb-gen-model micro qwen2 model", g)


def greedy(prompt, n):
    r = rb("run", "-m", qwen, "-p", prompt, "-n", str(n), "--temp", "0", "-t", "1",
           "--no-display-prompt")
    return r.stdout[:-1] if r.returncode == 0 and r.stdout.endswith("\n") else None


for n in (1, 5):
    r = rb("chat", "-m", qwen, "--system", "", "-n", str(n), "--temp", "0", "-t", "1",
           stdin="hi\nmore\n")
    turn1 = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    a1 = greedy(turn1, n)
    a2 = greedy(f"{turn1}{a1}<|im_end|>\n<|im_start|>user\nmore<|im_end|>\n"
                "<|im_start|>assistant\n", n) if a1 is not None else None
    check(r.returncode == 0 and a2 is not None and r.stdout == f"{a1}\n{a2}\n",
          f"chat -n {n}: turn 2 continues the cached conversation (want {a1!r}, {a2!r})", r)

for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
print("FAILED" if failures else "ok", f"({failures} failures)")
sys.exit(1 if failures else 0)
