#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Link and format check of the project's Markdown documents.

For every file: each relative link (inline, image or reference definition)
resolves to a file or directory inside the repository, and a `#anchor` to a
heading of the target document (GitHub's heading-id rules); headings are
well formed (ATX style with a space after the hashes, one level-1 heading
that comes first, no level skipped on the way down); no trailing whitespace,
no CR, a final newline; every table has a delimiter row and the same number
of cells in every row (counted the way GitHub does: every unescaped `|`).
Text inside fenced code blocks is exempt from the link, heading and table
rules. Finally every docs/*.md must be linked from README.md, so the README
stays the index of the documentation.

Usage: check_docs.py --root REPO [FILE...]   default: README.md, docs/*.md,
                                             kernel/README.md, fleet/README.md
       check_docs.py --self-test             prove each rule fires
"""

import argparse
import glob
import os
import re
import sys
import tempfile

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
ATX = re.compile(r"^(#{1,6})(.*)$")
INLINE_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
DELIM_CELL = re.compile(r"^\s*:?-+:?\s*$")


def github_slug(text):
    """Heading text -> GitHub anchor id (without the duplicate suffix)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)   # links -> their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def split_cells(row):
    """Cells of a table row, splitting on every unescaped pipe (as GFM does,
    also inside code spans)."""
    s = row.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return re.split(r"(?<!\\)\|", s)


def scan(lines):
    """Yield (line number, line, in_code) for every line."""
    in_code = False
    fence = None
    for n, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if m:
            if not in_code:
                in_code, fence = True, m.group(1)
                yield n, line, True
                continue
            if m.group(1) == fence:
                in_code = False
                yield n, line, True
                continue
        yield n, line, in_code


def anchors_of(path, cache):
    if path not in cache:
        ids = set()
        counts = {}
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
        except OSError:
            lines = []
        for _, line, in_code in scan(lines):
            m = ATX.match(line)
            if in_code or not m or not m.group(2).startswith(" "):
                continue
            slug = github_slug(m.group(2).strip().rstrip("#").strip())
            k = counts.get(slug, 0)
            counts[slug] = k + 1
            ids.add(slug if k == 0 else "%s-%d" % (slug, k))
        cache[path] = ids
    return cache[path]


def check_file(path, root, cache):
    problems = []
    rel = os.path.relpath(path, root)
    with open(path, "rb") as f:
        raw = f.read()
    if b"\r" in raw:
        problems.append("%s: contains CR characters (use LF line ends)" % rel)
    text = raw.decode("utf-8", errors="replace")
    if text and not text.endswith("\n"):
        problems.append("%s: no newline at the end of the file" % rel)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    level = 0
    h1 = 0
    first_heading = True
    table = []   # (line number, line) of the current table block

    def flush_table():
        if not table:
            return
        n0, head = table[0]
        if len(table) < 2 or not all(DELIM_CELL.match(c) for c in split_cells(table[1][1])):
            problems.append("%s:%d: table without a delimiter row (| --- |) under its header"
                            % (rel, n0))
        want = len(split_cells(head))
        for n, row in table[1:]:
            got = len(split_cells(row))
            if got != want:
                problems.append("%s:%d: table row has %d cells, the header has %d"
                                % (rel, n, got, want))
        table.clear()

    for n, line, in_code in scan(lines):
        if line != line.rstrip():
            problems.append("%s:%d: trailing whitespace" % (rel, n))
        if in_code:
            flush_table()
            continue

        if line.lstrip().startswith("|"):
            table.append((n, line))
        else:
            flush_table()

        m = ATX.match(line)
        if m:
            hashes, rest = m.group(1), m.group(2)
            if not rest.startswith(" ") or not rest.strip().rstrip("#").strip():
                problems.append("%s:%d: malformed heading (need '# Title')" % (rel, n))
            else:
                lv = len(hashes)
                if first_heading and lv != 1:
                    problems.append("%s:%d: the first heading must be level 1" % (rel, n))
                if lv == 1:
                    h1 += 1
                    if h1 > 1:
                        problems.append("%s:%d: second level-1 heading" % (rel, n))
                elif lv > level + 1 and not first_heading:
                    problems.append("%s:%d: heading jumps from level %d to %d"
                                    % (rel, n, level, lv))
                level = lv
                first_heading = False

        code_free = CODE_SPAN.sub("", line)
        targets = [t for t in INLINE_LINK.findall(code_free)]
        d = REF_DEF.match(code_free)
        if d:
            targets.append(d.group(1))
        for t in targets:
            problems += check_target(t, path, rel, n, root, cache)
    flush_table()
    if h1 == 0:
        problems.append("%s: no level-1 heading" % rel)
    return problems


def check_target(target, path, rel, n, root, cache):
    if not target or SCHEME.match(target):
        return []
    file_part, _, anchor = target.partition("#")
    if file_part:
        dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
        if os.path.commonpath([os.path.abspath(dest), os.path.abspath(root)]) != \
                os.path.abspath(root):
            return ["%s:%d: link %r leaves the repository" % (rel, n, target)]
        if not os.path.exists(dest):
            return ["%s:%d: link %r: no such file or directory" % (rel, n, target)]
    else:
        dest = path
    if anchor:
        if not dest.endswith(".md") or os.path.isdir(dest):
            return ["%s:%d: link %r: anchors are only checked into .md files"
                    % (rel, n, target)]
        if anchor not in anchors_of(dest, cache):
            return ["%s:%d: link %r: no heading with id #%s in %s"
                    % (rel, n, target, anchor, os.path.relpath(dest, root))]
    return []


LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>#]+)")


def check_readme_index(root):
    """Every docs/*.md is linked from README.md."""
    readme = os.path.join(root, "README.md")
    if not os.path.exists(readme):
        return ["README.md: missing"]
    with open(readme, encoding="utf-8") as f:
        linked = {os.path.normpath(os.path.join(root, t)) for t in LINK_TARGET.findall(f.read())}
    return ["README.md: %s is not linked from the README (add it to the Documentation "
            "table)" % os.path.relpath(d, root)
            for d in sorted(glob.glob(os.path.join(root, "docs", "*.md")))
            if os.path.normpath(d) not in linked]


def default_files(root):
    files = [os.path.join(root, "README.md")]
    files += sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    for extra in ("kernel/README.md", "fleet/README.md"):
        p = os.path.join(root, extra)
        if os.path.exists(p):
            files.append(p)
    return files


SELF_TESTS = {
    # name: (file contents, number of problems expected; 0 = must pass)
    "clean document": ("# T\n\n## A\n\nSee [b](b.md#b-title) and [A](#a).\n\n"
                       "| x | y |\n|---|:-:|\n| 1 | `a\\|b` |\n\n```\n| not a table\n# not a heading\n"
                       "[x](nowhere.md)\n```\n", 0),
    "missing file": ("# T\n\n[x](nope.md)\n", 1),
    "missing anchor": ("# T\n\n[x](b.md#nope)\n", 1),
    "missing local anchor": ("# T\n\n[x](#nope)\n", 1),
    "trailing whitespace": ("# T \n", 1),
    "no final newline": ("# T", 1),
    "CR line ends": ("# T\r\n", 1),
    "heading without space": ("# T\n\n##Bad\n", 1),
    "heading level jump": ("# T\n\n### Deep\n", 1),
    "two level-1 headings": ("# T\n\n# U\n", 1),
    "first heading not level 1": ("## T\n", 2),
    "table cell count": ("# T\n\n| a | b |\n|---|---|\n| 1 | 2 | 3 |\n", 1),
    "table without delimiter": ("# T\n\n| a | b |\n| 1 | 2 |\n", 1),
    "unescaped pipe in code in table": ("# T\n\n| a | b |\n|---|---|\n| `x|y` | 2 |\n", 1),
    "link out of the repository": ("# T\n\n[x](../../etc/passwd)\n", 1),
    "reference definition": ("# T\n\n[x]: missing.md\n", 1),
}


def self_test():
    failed = 0
    with tempfile.TemporaryDirectory() as root:
        with open(os.path.join(root, "b.md"), "w", encoding="utf-8") as f:
            f.write("# B title\n")
        os.makedirs(os.path.join(root, "docs"))
        with open(os.path.join(root, "docs", "x.md"), "w", encoding="utf-8") as f:
            f.write("# X\n")
        for readme, want in (("# R\n\n[x](docs/x.md)\n", 0), ("# R\n", 1)):
            with open(os.path.join(root, "README.md"), "w", encoding="utf-8") as f:
                f.write(readme)
            got = check_readme_index(root)
            ok = len(got) == want
            print("%s self-test: README index, %s (%d problem(s))"
                  % ("PASS" if ok else "FAIL", "linked" if want == 0 else "not linked",
                     len(got)))
            failed += not ok
        for name, (content, want) in SELF_TESTS.items():
            p = os.path.join(root, "a.md")
            with open(p, "wb") as f:
                f.write(content.encode("utf-8"))
            got = check_file(p, root, {})
            ok = (not got) if want == 0 else (len(got) >= want)
            print("%s self-test: %s (%d problem(s))" % ("PASS" if ok else "FAIL", name, len(got)))
            if not ok:
                for g in got:
                    print("      " + g)
            failed += not ok
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="Markdown link and format check")
    ap.add_argument("--root", default=".")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    root = os.path.abspath(a.root)
    files = [os.path.abspath(f) for f in a.files] or default_files(root)
    cache = {}
    problems = []
    if not a.files:
        problems += check_readme_index(root)
    for f in files:
        if not os.path.exists(f):
            problems.append("%s: missing" % os.path.relpath(f, root))
            continue
        problems += check_file(f, root, cache)
    for p in problems:
        print("FAIL " + p)
    print("checked %d file(s): %d problem(s)" % (len(files), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
