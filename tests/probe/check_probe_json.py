#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run npu-probe --json and check fields of its report.

Usage: check_probe_json.py EXPECT_EXIT CHECKS -- COMMAND...
CHECKS: comma-separated assertions "path=value", "path~substring" or
"check:section/key=status"; a path is dotted (npu.state, selftest.passed).
"""
import json
import subprocess
import sys


def lookup(doc, path):
    for part in path.split("."):
        if isinstance(doc, list):
            doc = doc[int(part)]
        else:
            doc = doc[part]
    return doc


def main():
    sep = sys.argv.index("--")
    want_exit, checks, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[sep + 1:]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode != want_exit:
        sys.exit("exit status %d, expected %d\n%s" % (proc.returncode, want_exit, proc.stdout))
    doc = json.loads(proc.stdout)
    if doc["exit_status"] != want_exit:
        sys.exit("exit_status field %r" % doc["exit_status"])
    failures = []
    for check in filter(None, checks.split(",")):
        if check.startswith("check:"):
            name, status = check[6:].split("=")
            section, key = name.split("/")
            got = [c["status"] for c in doc["checks"] if c["section"] == section and c["key"] == key]
            if got != [status]:
                failures.append("%s: %r" % (check, got))
        elif "~" in check:
            path, sub = check.split("~", 1)
            if sub not in str(lookup(doc, path)):
                failures.append("%s: %r" % (check, lookup(doc, path)))
        else:
            path, value = check.split("=", 1)
            got = lookup(doc, path)
            if json.dumps(got) != value and str(got) != value:
                failures.append("%s: %r" % (check, got))
    if failures:
        sys.exit("failed: " + "; ".join(failures))
    print("ok: %d checks" % len(list(filter(None, checks.split(",")))))


main()
