#!/usr/bin/env bash
# The whole test suite: host (Release), debug-asan (ASan+UBSan), aarch64 under
# qemu-user. Installs what it needs first. Usage: scripts/test.sh [preset...]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

presets=("$@")
[ "${#presets[@]}" -gt 0 ] || presets=(host debug-asan aarch64)

for p in "${presets[@]}"; do
  echo "=== test: $p ==="
  start=$(date +%s)
  cmake --workflow --preset "$p"
  echo "=== test: $p passed in $(( $(date +%s) - start )) s ==="
done
echo "=== all test presets passed: ${presets[*]} ==="
