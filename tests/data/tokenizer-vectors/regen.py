#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Regenerate the reference token ids in this directory with an independent
tokenizer: llama.cpp's `llama-tokenize` (an existing CPU build; see README.md
for the exact version and command line). Nothing here builds llama.cpp.

Usage: regen.py /path/to/llama-tokenize
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)

# name -> (vocabulary file, tokenizer.ggml.pre override or None)
VOCABS = {
    "qwen2": ("tokenizers/qwen2-vocab.gguf", None),
    "qwen2-llama-bpe": ("tokenizers/qwen2-vocab.gguf", "llama-bpe"),
    "qwen2-gpt2": ("tokenizers/qwen2-vocab.gguf", "gpt-2"),
    "llama-spm": ("tokenizers/llama-spm-vocab.gguf", None),
    "stories260K": ("stories260K/stories260K-f32.gguf", None),
}


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n in "nrt\\":
            out += {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\"}[n]
            i += 2
        elif n == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
        elif n == "u":
            end = s.index("}", i)
            out += chr(int(s[i + 3:end], 16)).encode()
            i = end + 1
        else:
            raise ValueError("bad escape in %r" % s)
    return bytes(out)


def read_corpus():
    cases = []
    for line in open(os.path.join(HERE, "corpus.txt"), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        flags, text = line.split("\t", 1)
        cases.append((flags, text))
    return cases


def gguf_with_pre(src, pre):
    """Copy of a tensor-less GGUF with tokenizer.ggml.pre replaced (GGUF v3
    layout: magic, version u32, n_tensors u64, n_kv u64, then key/value pairs)."""
    b = open(src, "rb").read()
    o = 4 + 4
    n_tensors, n_kv = struct.unpack_from("<QQ", b, o)
    assert n_tensors == 0, "only tensor-less vocabulary files can be patched"
    o += 16
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def skip_value(t, o):
        if t == 8:
            (n,) = struct.unpack_from("<Q", b, o)
            return o + 8 + n
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, o)
            o += 12
            if et == 8:
                for _ in range(n):
                    o = skip_value(8, o)
                return o
            return o + n * sizes[et]
        return o + sizes[t]

    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", b, o)
        key = b[o + 8:o + 8 + klen].decode()
        o += 8 + klen
        (t,) = struct.unpack_from("<I", b, o)
        o += 4
        end = skip_value(t, o)
        if key == "tokenizer.ggml.pre":
            new = pre.encode()
            return b[:o] + struct.pack("<Q", len(new)) + new + b[end:]
        o = end
    raise KeyError("no tokenizer.ggml.pre")


def tokenize(tool, model, flags, data):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(data)
        path = f.name
    cmd = [tool, "-m", model, "-f", path, "--ids", "--no-escape", "--log-disable"]
    if "B" not in flags:
        cmd.append("--no-bos")
    if "S" not in flags:
        cmd.append("--no-parse-special")
    out = subprocess.run(cmd, capture_output=True, check=True).stdout.decode()
    os.unlink(path)
    line = [l for l in out.splitlines() if l.startswith("[")][-1]
    return [int(x) for x in line.strip("[]").split(",") if x.strip()]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = sys.argv[1]
    cases = read_corpus()
    tmpdir = tempfile.mkdtemp()
    for name, (rel, pre) in VOCABS.items():
        model = os.path.join(DATA, rel)
        if pre:
            model_copy = os.path.join(tmpdir, name + ".gguf")
            open(model_copy, "wb").write(gguf_with_pre(model, pre))
            model = model_copy
        with open(os.path.join(HERE, name + ".tsv"), "w", encoding="utf-8") as out:
            out.write("# %s: flags<TAB>text (corpus.txt escapes)<TAB>ids; made by regen.py\n" % name)
            for flags, text in cases:
                if name.startswith("qwen2") and "S" in flags and "</s>" in text:
                    # llama.cpp retypes Qwen2's NORMAL "</s>" as CONTROL (it
                    # looks like an end-of-generation marker); we follow the
                    # vocabulary. The same text without "S" is checked instead.
                    out.write("# skipped (llama.cpp retypes </s>): %s\t%s\n" % (flags, text))
                    continue
                ids = tokenize(tool, model, flags, unescape(text))
                out.write("%s\t%s\t%s\n" % (flags, text, " ".join(map(str, ids))))
        print("wrote %s.tsv (%d cases)" % (name, len(cases)))


if __name__ == "__main__":
    main()
