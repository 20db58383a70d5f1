#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check kernel/rk3588-rock-5-itx-npu.dtso: it compiles cleanly with dtc, it
refers to exactly the labels it should, it applies with fdtoverlay to a base
tree that has those labels, and the merged tree differs from the base in
exactly the expected properties (NPU cores and IOMMUs "okay", every NPU
supply pointing at the vdd_npu_s0 regulator). Two negative cases make sure the
check can fail: a base without the regulator label and a base built without
symbols must both be refused by fdtoverlay.

Usage: check_overlay.py --overlay X.dtso --base Y.dts --workdir DIR
                        [--dtc dtc] [--fdtoverlay fdtoverlay] [--fdtget fdtget]
Exit status 0 when every check passes, 1 otherwise (each failure is printed).
"""

import argparse
import os
import re
import subprocess
import sys

CORES = ["/npu@fdab0000", "/npu@fdac0000", "/npu@fdad0000"]
IOMMUS = ["/iommu@fdab9000", "/iommu@fdaca000", "/iommu@fdada000"]
PD_NPU = "/power-management@fd8d8000/power-controller/power-domain@8"
REGULATOR = "/i2c@fea90000/regulator@42"
EXPECTED_FIXUPS = {
    "pd_npu", "vdd_npu_s0",
    "rknn_core_0", "rknn_core_1", "rknn_core_2",
    "rknn_mmu_0", "rknn_mmu_1", "rknn_mmu_2",
}


class Checker:
    def __init__(self, tools):
        self.tools = tools
        self.failures = 0

    def ok(self, cond, what):
        print(("PASS " if cond else "FAIL ") + what)
        if not cond:
            self.failures += 1
        return cond

    def run(self, argv):
        """Run a tool; return (exit code, stdout, stderr)."""
        p = subprocess.run(argv, capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def dtc(self, src, out, symbols=True):
        argv = [self.tools["dtc"], "-I", "dts", "-O", "dtb", "-o", out, src]
        if symbols:
            argv.insert(1, "-@")
        return self.run(argv)

    def fdtget(self, dtb, *args):
        rc, out, err = self.run([self.tools["fdtget"], dtb] + list(args))
        if rc != 0:
            raise RuntimeError("fdtget %s %s: %s" % (dtb, " ".join(args), err.strip()))
        return out

    def tree(self, dtb, path="/"):
        """{node path: {property: raw fdtget output}} for the whole tree,
        skipping the overlay bookkeeping nodes (__symbols__ and friends)."""
        nodes = {}
        props = {}
        for name in self.fdtget(dtb, "-p", path).split():
            rc, out, _ = self.run([self.tools["fdtget"], "-t", "bx", dtb, path, name])
            props[name] = out.strip() if rc == 0 else "<unreadable>"
        nodes[path] = props
        for child in self.fdtget(dtb, "-l", path).split():
            if child.startswith("__"):
                continue
            sub = (path.rstrip("/") + "/" + child)
            nodes.update(self.tree(dtb, sub))
        return nodes

    def prop_u32(self, dtb, node, prop):
        """First cell of a property, or None when it is missing."""
        rc, out, _ = self.run([self.tools["fdtget"], "-t", "u", dtb, node, prop])
        return int(out.split()[0]) if rc == 0 and out.split() else None

    def prop_str(self, dtb, node, prop):
        """A string property, or None when it is missing."""
        rc, out, _ = self.run([self.tools["fdtget"], "-t", "s", dtb, node, prop])
        return out.strip() if rc == 0 else None


def check_positive(c, overlay, base, work):
    dtbo = os.path.join(work, "overlay.dtbo")
    base_dtb = os.path.join(work, "base.dtb")
    merged = os.path.join(work, "merged.dtb")

    rc, _, err = c.dtc(overlay, dtbo)
    c.ok(rc == 0, "dtc compiles the overlay (exit %d)" % rc)
    c.ok(err.strip() == "", "dtc prints no warnings for the overlay"
         + ("" if not err.strip() else ":\n" + err.strip()))
    rc, _, err = c.dtc(base, base_dtb)
    c.ok(rc == 0 and err.strip() == "", "dtc compiles the test base cleanly"
         + ("" if not err.strip() else ":\n" + err.strip()))
    if c.failures:
        return

    fixups = set(c.fdtget(dtbo, "-p", "/__fixups__").split())
    c.ok(fixups == EXPECTED_FIXUPS,
         "overlay refers to exactly the expected labels (got %s)" % sorted(fixups))

    rc, _, err = c.run([c.tools["fdtoverlay"], "-i", base_dtb, "-o", merged, dtbo])
    if not c.ok(rc == 0, "fdtoverlay applies the overlay to the base"
                + ("" if rc == 0 else ": " + err.strip())):
        return

    for node in CORES + IOMMUS:
        c.ok(c.prop_str(base_dtb, node, "status") == "disabled",
             "%s is disabled in the base" % node)
        c.ok(c.prop_str(merged, node, "status") == "okay",
             "%s is okay after the overlay" % node)

    reg = c.prop_u32(merged, REGULATOR, "phandle")
    c.ok(c.prop_str(merged, REGULATOR, "regulator-name") == "vdd_npu_s0",
         "the regulator at %s is still vdd_npu_s0" % REGULATOR)
    for node in CORES:
        for supply in ("npu-supply", "sram-supply"):
            got = c.prop_u32(merged, node, supply)
            c.ok(got is not None and got == reg, "%s %s -> phandle %s (vdd_npu_s0 is %s)"
                 % (node, supply, got, reg))
    got = c.prop_u32(merged, PD_NPU, "domain-supply")
    c.ok(got is not None and got == reg,
         "pd_npu domain-supply -> phandle %s (vdd_npu_s0 is %s)" % (got, reg))

    # Nothing else may change: compare every property of every node.
    before, after = c.tree(base_dtb), c.tree(merged)
    c.ok(set(before) == set(after), "the overlay adds or removes no nodes")
    expected = set()
    for node in CORES:
        expected |= {(node, "status"), (node, "npu-supply"), (node, "sram-supply")}
    for node in IOMMUS:
        expected.add((node, "status"))
    expected.add((PD_NPU, "domain-supply"))
    changed = set()
    for node in set(before) & set(after):
        for prop in set(before[node]) | set(after[node]):
            if before[node].get(prop) != after[node].get(prop):
                changed.add((node, prop))
    c.ok(changed == expected, "exactly the expected properties change (unexpected: %s, "
         "missing: %s)" % (sorted(changed - expected), sorted(expected - changed)))


def check_negative(c, overlay, base, work):
    dtbo = os.path.join(work, "overlay.dtbo")
    with open(base, encoding="utf-8") as f:
        text = f.read()

    # A base whose regulator has no label: the phandle fixup cannot resolve.
    nolabel_src = os.path.join(work, "base-no-regulator-label.dts")
    stripped, n = re.subn(r"\bvdd_npu_s0:\s*", "", text)
    c.ok(n == 1, "negative case: removed the vdd_npu_s0 label from the base")
    with open(nolabel_src, "w", encoding="utf-8") as f:
        f.write(stripped)
    nolabel = os.path.join(work, "base-no-regulator-label.dtb")
    rc, _, _ = c.dtc(nolabel_src, nolabel)
    c.ok(rc == 0, "negative case: base without the label compiles")
    rc, _, _ = c.run([c.tools["fdtoverlay"], "-i", nolabel, "-o",
                      os.path.join(work, "bad1.dtb"), dtbo])
    c.ok(rc != 0, "fdtoverlay refuses a base without the vdd_npu_s0 label")

    # A base built without -@ has no __symbols__: no label can resolve.
    nosym = os.path.join(work, "base-no-symbols.dtb")
    rc, _, _ = c.dtc(base, nosym, symbols=False)
    c.ok(rc == 0, "negative case: base without symbols compiles")
    rc, _, _ = c.run([c.tools["fdtoverlay"], "-i", nosym, "-o",
                      os.path.join(work, "bad2.dtb"), dtbo])
    c.ok(rc != 0, "fdtoverlay refuses a base built without symbols (dtc -@)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--overlay", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--dtc", default="dtc")
    ap.add_argument("--fdtoverlay", default="fdtoverlay")
    ap.add_argument("--fdtget", default="fdtget")
    a = ap.parse_args()

    os.makedirs(a.workdir, exist_ok=True)
    c = Checker({"dtc": a.dtc, "fdtoverlay": a.fdtoverlay, "fdtget": a.fdtget})
    try:
        check_positive(c, a.overlay, a.base, a.workdir)
        if c.failures == 0:
            check_negative(c, a.overlay, a.base, a.workdir)
    except (OSError, RuntimeError) as e:
        c.ok(False, "tool error: %s" % e)
    print("%s: %d failure(s)" % (os.path.basename(a.overlay), c.failures))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
