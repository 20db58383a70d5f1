#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the Kconfig fragment kernel/npu.config: every line is a comment, a
blank line, `CONFIG_FOO=value` or `# CONFIG_FOO is not set` (the forms
scripts/kconfig/merge_config.sh understands); no symbol is set twice; every
setting is explained by a comment above it; and the symbols the NPU stack
cannot work without are present with a usable value.

Usage: check_kconfig.py FRAGMENT      check a fragment
       check_kconfig.py --self-test   prove each rule fires on a bad sample
"""

import re
import sys

# Symbol -> accepted values. DRM_ACCEL_ROCKET may be built in or a module.
REQUIRED = {
    "DRM": {"y"},
    "DRM_ACCEL": {"y"},
    "DRM_ACCEL_ROCKET": {"m", "y"},
    "ROCKCHIP_IOMMU": {"y"},
    "ROCKCHIP_PM_DOMAINS": {"y"},
    "REGULATOR_FAN53555": {"y", "m"},
    "COMMON_CLK_SCMI": {"y"},
    "ARM_SCMI_PROTOCOL": {"y"},
    "CLK_RK3588": {"y"},
    "I2C_RK3X": {"y", "m"},
}

SETTING = re.compile(r'^CONFIG_([A-Z0-9_]+)=(y|m|n|-?[0-9]+|0x[0-9a-fA-F]+|"[^"]*")$')
UNSET = re.compile(r"^# CONFIG_([A-Z0-9_]+) is not set$")


def check(text, name="fragment"):
    """Return a list of problems, each naming the line."""
    problems = []
    seen = {}
    prev_comment = False
    for n, line in enumerate(text.split("\n"), 1):
        where = "%s:%d" % (name, n)
        if line != line.rstrip():
            problems.append("%s: trailing whitespace" % where)
        m = SETTING.match(line)
        u = UNSET.match(line)
        if m or u:
            sym = (m or u).group(1)
            val = m.group(2) if m else "n"
            if sym in seen:
                problems.append("%s: CONFIG_%s set again (first at line %d)"
                                % (where, sym, seen[sym][0]))
            seen[sym] = (n, val)
            if m and not prev_comment:
                problems.append("%s: CONFIG_%s has no explaining comment above it"
                                % (where, sym))
            # A run of settings shares the comment block above it.
            continue
        if line.startswith("#"):
            prev_comment = True
            continue
        if line.strip() == "":
            prev_comment = False
            continue
        problems.append("%s: not a Kconfig fragment line: %r" % (where, line))
        prev_comment = False
    for sym, ok in sorted(REQUIRED.items()):
        if sym not in seen:
            problems.append("%s: required CONFIG_%s is missing" % (name, sym))
        elif seen[sym][1] not in ok:
            problems.append("%s:%d: CONFIG_%s=%s, needs one of %s"
                            % (name, seen[sym][0], sym, seen[sym][1], sorted(ok)))
    return problems


def self_test():
    good = "\n".join(["# why"] + ["CONFIG_%s=%s" % (s, sorted(v)[-1])
                                  for s, v in sorted(REQUIRED.items())]) + "\n"
    cases = {
        "good sample passes": (good, 0),
        "missing symbol": (good.replace("CONFIG_DRM_ACCEL=y\n", ""), 1),
        "wrong value": (good.replace("CONFIG_DRM_ACCEL=y", "CONFIG_DRM_ACCEL=m"), 1),
        "duplicate": (good + "# again\nCONFIG_DRM=y\n", 1),
        "no comment": (good + "\nCONFIG_FOO=y\n", 1),
        "garbage line": (good + "DRM=y\n", 1),
        "trailing blank": (good + "# x \n", 1),
    }
    failed = 0
    for what, (text, want) in cases.items():
        got = len(check(text, what))
        ok = (got == 0) if want == 0 else (got >= want)
        print("%s self-test: %s (%d problem(s))" % ("PASS" if ok else "FAIL", what, got))
        failed += not ok
    return 1 if failed else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        problems = check(f.read(), argv[1])
    for p in problems:
        print("FAIL " + p)
    print("%s: %d problem(s)" % (argv[1], len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
