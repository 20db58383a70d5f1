#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check fleet/*.yaml against the fleet schema contract (fleet/README.md).

1. The file stays inside the YAML subset npu-probe parses: block mappings,
   block sequences of scalars, flow sequences of scalars, plain or
   double-quoted scalars, `#` comments; no tabs, flow mappings, anchors,
   aliases, tags or multi-line scalars. The parser here is deliberately
   strict and independent of npu-probe's.
2. Keys have the documented types (machine required; cpu.*.cpus lists of CPU
   numbers; memory.total_gib a number; ...).
3. The description agrees with the rest of the repository: the files it
   names exist, the DT node paths it lists are exactly the nodes the overlay
   enables (taken from the merged test tree when --merged-dtb is given) and
   the supply it names is the regulator label the overlay refers to.

Usage: check_fleet.py --root REPO FILE.yaml [--merged-dtb M.dtb --fdtget fdtget]
       check_fleet.py --self-test
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(?:\s+(.*))?$")


class YamlError(Exception):
    pass


def strip_comment(line):
    """Drop a trailing # comment that is not inside double quotes."""
    in_str = False
    esc = False
    for i, ch in enumerate(line):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    if in_str:
        raise YamlError("unterminated double-quoted string")
    return line.rstrip()


def scalar(text, n):
    t = text.strip()
    if not t:
        raise YamlError("line %d: empty value" % n)
    if t[0] in "{&*!|>'%@`":
        raise YamlError("line %d: %r is outside the fleet YAML subset" % (n, t))
    if t.startswith('"'):
        if not t.endswith('"') or len(t) < 2:
            raise YamlError("line %d: bad double-quoted scalar %r" % (n, t))
        body = t[1:-1]
        if re.search(r'(?<!\\)"', body):
            raise YamlError("line %d: stray quote in %r" % (n, t))
        return body.replace('\\"', '"').replace("\\\\", "\\")
    if t.startswith("["):
        if not t.endswith("]"):
            raise YamlError("line %d: unterminated flow sequence" % n)
        inner = t[1:-1].strip()
        if not inner:
            return []
        if "[" in inner or "{" in inner:
            raise YamlError("line %d: nested flow collections are outside the subset" % n)
        return [scalar(x, n) for x in inner.split(",")]
    if ": " in t:
        raise YamlError("line %d: plain scalar contains ': ' (quote it): %r" % (n, t))
    if re.fullmatch(r"-?[0-9]+", t):
        return int(t)
    if re.fullmatch(r"-?[0-9]+\.[0-9]+", t):
        return float(t)
    return t


def parse(text):
    """Parse the subset into dicts, lists and scalars."""
    rows = []
    for n, raw in enumerate(text.split("\n"), 1):
        if "\t" in raw:
            raise YamlError("line %d: tab character" % n)
        try:
            line = strip_comment(raw)
        except YamlError as e:
            raise YamlError("line %d: %s" % (n, e))
        if line.strip() in ("", "---"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        rows.append((n, indent, line.strip()))

    pos = 0

    def block(indent):
        nonlocal pos
        if pos >= len(rows):
            raise YamlError("unexpected end of file")
        n, ind, body = rows[pos]
        if ind != indent:
            raise YamlError("line %d: indentation %d, expected %d" % (n, ind, indent))
        if body.startswith("- ") or body == "-":
            seq = []
            while pos < len(rows) and rows[pos][1] == indent and rows[pos][2].startswith("-"):
                n, _, body = rows[pos]
                if body == "-" or body[1] != " ":
                    raise YamlError("line %d: nested block sequences are outside the subset" % n)
                seq.append(scalar(body[2:], n))
                pos += 1
            return seq
        out = {}
        while pos < len(rows) and rows[pos][1] == indent:
            n, _, body = rows[pos]
            m = KEY.match(body)
            if not m:
                raise YamlError("line %d: expected 'key: value', got %r" % (n, body))
            key, val = m.group(1), m.group(2)
            if key in out:
                raise YamlError("line %d: duplicate key %r" % (n, key))
            pos += 1
            if val:
                out[key] = scalar(val, n)
            else:
                if pos >= len(rows) or rows[pos][1] <= indent:
                    raise YamlError("line %d: %r has no value" % (n, key))
                if rows[pos][1] != indent + 2:
                    raise YamlError("line %d: indent nested blocks by exactly 2 spaces"
                                    % rows[pos][0])
                out[key] = block(rows[pos][1])
        if pos < len(rows) and rows[pos][1] > indent:
            raise YamlError("line %d: unexpected indentation" % rows[pos][0])
        return out

    if not rows:
        raise YamlError("empty document")
    doc = block(0)
    if pos != len(rows):
        raise YamlError("line %d: trailing content" % rows[pos][0])
    if not isinstance(doc, dict):
        raise YamlError("the document must be a mapping")
    return doc


def get(doc, path):
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def check_schema(doc):
    problems = []

    def want(path, kind, required=False):
        v = get(doc, path)
        if v is None:
            if required:
                problems.append("required key %s is missing" % path)
            return None
        if not kind(v):
            problems.append("%s has the wrong type: %r" % (path, v))
        return v

    is_str = lambda v: isinstance(v, str) and v != ""
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)
    is_num = lambda v: isinstance(v, (int, float))
    is_paths = lambda v: isinstance(v, list) and v and all(
        isinstance(p, str) and p.startswith("/") for p in v)

    want("machine", is_str, required=True)
    for k in ("board", "soc", "dt_compatible"):
        want(k, is_str)
    seen_cpus = set()
    for cluster in ("big", "little"):
        cpus = want("cpu.%s.cpus" % cluster, lambda v: isinstance(v, list) and v and all(
            is_int(c) and 0 <= c < 64 for c in v))
        want("cpu.%s.core" % cluster, is_str)
        want("cpu.%s.max_mhz" % cluster, is_int)
        if isinstance(cpus, list):
            dup = seen_cpus & set(cpus)
            if dup:
                problems.append("cpu.%s.cpus repeats CPUs %s" % (cluster, sorted(dup)))
            seen_cpus |= set(cpus)
    want("memory.type", is_str)
    want("memory.total_gib", is_num)
    want("kernel.min_version", lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]+\.[0-9]+(\.[0-9]+)?", v))
    want("kernel.config_fragment", is_str)
    for k in ("driver", "module", "supply"):
        want("npu." + k, is_str)
    want("npu.accel_node", lambda v: is_str(v) and v.startswith("/dev/accel/"))
    cores = want("npu.cores", is_int)
    for k in ("dt_nodes", "iommu_nodes"):
        v = want("npu." + k, is_paths)
        if isinstance(v, list) and is_int(cores) and len(v) != cores:
            problems.append("npu.%s lists %d nodes for %d cores" % (k, len(v), cores))
    want("npu.clock_hz_expected", is_int)
    # npu-probe reads kernel.* files relative to the fleet file's parent
    # directory, so a deploy command must copy their top directory too.
    deploy = want("commands.deploy", is_str)
    if isinstance(deploy, str):
        for key in ("kernel.config_fragment", "kernel.overlay"):
            p = get(doc, key)
            if not isinstance(p, str) or "/" not in p:
                continue
            top = p.split("/")[0] + "/"
            if not re.search(r"(?:^|\s)" + re.escape(top) + r"(?:\s|$)", deploy):
                problems.append("commands.deploy does not copy %s, which %s (%s) needs on "
                                "the board" % (top, key, p))
    return problems


def check_repo(doc, root, merged_dtb, fdtget):
    problems = []
    for key in ("kernel.config_fragment", "kernel.overlay"):
        p = get(doc, key)
        if isinstance(p, str) and not os.path.exists(os.path.join(root, p)):
            problems.append("%s names %s, which does not exist" % (key, p))
    overlay = get(doc, "kernel.overlay")
    if isinstance(overlay, str) and os.path.exists(os.path.join(root, overlay)):
        with open(os.path.join(root, overlay), encoding="utf-8") as f:
            text = f.read()
        supply = get(doc, "npu.supply")
        if isinstance(supply, str) and ("&" + supply) not in text:
            problems.append("npu.supply %r is not the regulator the overlay uses" % supply)
    if merged_dtb:
        for key in ("npu.dt_nodes", "npu.iommu_nodes"):
            for p in get(doc, key) or []:
                node = p.replace("/proc/device-tree", "", 1) or "/"
                r = subprocess.run([fdtget, "-t", "s", merged_dtb, node, "status"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    problems.append("%s: %s is not a node of the overlay test tree" % (key, p))
                elif r.stdout.strip() != "okay":
                    problems.append("%s: %s is %r after the overlay, not okay"
                                    % (key, p, r.stdout.strip()))
    return problems


SELF_TESTS = {
    "good": ("machine: m\ncpu:\n  big:\n    cpus: [4, 5]\n    core: a\n    max_mhz: 1\n"
             "npu:\n  cores: 1\n  dt_nodes: [/a]\n  iommu_nodes:\n    - /b\n", 0),
    "flow mapping": ("machine: m\ncpu: { big: 1 }\n", 1),
    "tab": ("machine: m\n\tx: 1\n", 1),
    "anchor": ("machine: &a m\n", 1),
    "multi-line scalar": ("machine: |\n  m\n", 1),
    "duplicate key": ("machine: m\nmachine: n\n", 1),
    "bad indentation": ("machine: m\ncpu:\n  big:\n   cpus: [1]\n", 1),
    "missing machine": ("board: b\n", 1),
    "wrong type": ("machine: m\nmemory:\n  total_gib: lots\n", 1),
    "node count": ("machine: m\nnpu:\n  cores: 3\n  dt_nodes: [/a]\n", 1),
    "unquoted colon": ("machine: m\nboard: a: b\n", 1),
    "deploy copies kernel/": ("machine: m\nkernel:\n  config_fragment: kernel/x.config\n"
                              "commands:\n  deploy: \"rsync -a fleet/ b:f/ && rsync -a kernel/ b:k/\"\n",
                              0),
    "deploy misses kernel/": ("machine: m\nkernel:\n  config_fragment: kernel/x.config\n"
                              "commands:\n  deploy: \"rsync -a fleet/ b:f/\"\n", 1),
}


def self_test():
    failed = 0
    for name, (text, want) in SELF_TESTS.items():
        try:
            got = check_schema(parse(text))
        except YamlError as e:
            got = [str(e)]
        ok = (not got) if want == 0 else bool(got)
        print("%s self-test: %s (%s)" % ("PASS" if ok else "FAIL", name,
                                         "; ".join(got) if got else "clean"))
        failed += not ok
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="fleet YAML check")
    ap.add_argument("--root", default=".")
    ap.add_argument("--merged-dtb")
    ap.add_argument("--fdtget", default="fdtget")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("file", nargs="?")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.file:
        ap.error("a fleet file is needed")
    with open(a.file, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = parse(text)
    except YamlError as e:
        print("FAIL %s: %s" % (a.file, e))
        return 1
    problems = check_schema(doc) + check_repo(doc, a.root, a.merged_dtb, a.fdtget)
    for p in problems:
        print("FAIL %s: %s" % (a.file, p))
    print("%s: %d problem(s)" % (a.file, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
