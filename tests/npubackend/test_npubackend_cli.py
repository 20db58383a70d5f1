#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`rosenblatt run/bench --backend npu` end to end on the simulator, with the
real stories260K model (f32, llama): every matmul on the NPU
(--npu-min-tokens 1, so decode too) must generate the same greedy text as the
cpu backend; the stats reach stderr; no NPU gives a clear error.

Usage: test_npubackend_cli.py BIN_DIR DATA_DIR [EMULATOR...]"""
import glob
import os
import re
import subprocess
import sys

BIN, DATA = sys.argv[1:3]
EMU = [a for a in sys.argv[3:] if a]
RB = os.path.join(BIN, "rosenblatt")
STORIES = os.path.join(DATA, "stories260K", "stories260K-f32.gguf")
QUICK = os.environ.get("RB_TEST_QUICK", "0") not in ("", "0")
N_GEN = "8" if QUICK else "24"
failures = 0


def rb(*args, env=None):
    e = dict(os.environ)
    e.pop("NPU_DEVICE", None)
    e.update(env or {})
    return subprocess.run(EMU + [RB] + list(args), capture_output=True, encoding="utf-8",
                          errors="replace", timeout=900, env=e)


def check(cond, what, r=None):
    global failures
    if cond:
        print("ok:", what)
        return
    failures += 1
    print("FAIL:", what)
    if r is not None:
        print("  exit", r.returncode, "\n  stdout:", r.stdout[-800:],
              "\n  stderr:", r.stderr[-1500:])


def clean_exit(r):
    return r.returncode >= 0 and "Sanitizer" not in r.stderr and "runtime error" not in r.stderr


def stat(r, pattern):
    m = re.search(pattern, r.stderr)
    return int(m.group(1)) if m else -1


GEN = ["-p", "Once upon a time", "-n", N_GEN, "--temp", "0", "-t", "2"]

r = rb("run", "--help")
check(r.returncode == 0 and "--npu-sim" in r.stdout and "--npu-min-tokens" in r.stdout,
      "run --help lists the npu options", r)
r = rb("run", "-m", STORIES, "--backend", "tpu")
check(r.returncode == 2 and "cpu, ref, npu" in r.stderr, "unknown backend names the choices", r)
r = rb("run", "-m", STORIES, "--npu-sim", "--npu-min-tokens", "-3")
check(r.returncode == 2 and "--npu-min-tokens" in r.stderr, "bad --npu-min-tokens", r)

# No NPU here: a clear error and exit 1 (only where there is really none).
if not glob.glob("/dev/accel/accel*"):
    r = rb("run", "-m", STORIES, "--backend", "npu", *GEN)
    check(r.returncode == 1 and clean_exit(r) and "no NPU" in r.stderr and
          "--npu-sim" in r.stderr and r.stdout == "", "--backend npu without an NPU", r)

cpu = rb("run", "-m", STORIES, *GEN)
check(cpu.returncode == 0 and cpu.stdout.startswith("Once upon a time"), "cpu run", cpu)
npu = rb("run", "-m", STORIES, "--npu-sim", "--npu-min-tokens", "1", *GEN)
check(npu.returncode == 0 and clean_exit(npu), "npu run on the simulator", npu)
check(npu.stdout == cpu.stdout, "greedy text: npu (every matmul, int8) == cpu", npu)
calls = stat(npu, r"npu: calls (\d+)")
check(calls > 0 and stat(npu, r"NPU (\d+) \(") == calls and
      stat(npu, r"fell back (\d+)") == 0 and "npu: simulator:" in npu.stderr,
      "stats: every call on the NPU, no fallback", npu)

# Default threshold: the 5-token prompt and decode stay on the cpu.
r = rb("run", "-m", STORIES, "--backend", "npu", "--npu-sim", *GEN)
check(r.returncode == 0 and r.stdout == cpu.stdout and stat(r, r"NPU (\d+) \(") == 0 and
      stat(r, r"below min tokens (\d+)") > 0, "default threshold: small calls on the cpu", r)

r = rb("run", "-m", STORIES, "--npu-sim", "--npu-fp16", "--npu-min-tokens", "1", *GEN)
check(r.returncode == 0 and "fp16 weights" in r.stderr and r.stdout == cpu.stdout,
      "fp16 weights: same greedy text", r)

r = rb("run", "-m", STORIES, "--npu-sim", "--npu-act16", "--npu-min-tokens", "1", *GEN)
check(r.returncode == 0 and "two int8 passes" in r.stderr and r.stdout == cpu.stdout,
      "activations in two passes: same greedy text", r)

r = rb("bench", "-m", STORIES, "--npu-sim", "-p", "40", "-n", "2", "-r", "1", "--no-warmup")
check(r.returncode == 0 and re.search(r"\| npu +\|.*pp40", r.stdout) and
      stat(r, r"NPU (\d+) \(") > 0, "bench --npu-sim: table and stats", r)

print("FAILED" if failures else "all passed", failures)
sys.exit(1 if failures else 0)
