#!/usr/bin/env bash
# Set up, build and generate text with the embedded default model
# (stories260K, a real tiny llama2.c model shipped in tests/data).
# Extra arguments are passed to `rosenblatt run`, e.g. -p "Once upon a time" -n 200.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cmake --preset host >/dev/null
cmake --build --preset host

model=tests/data/stories260K/stories260K-f32.gguf
if [ "$#" -eq 0 ]; then
  set -- -p "Once upon a time" -n 200 --temp 0
fi
exec ./build/host/bin/rosenblatt run -m "$model" "$@"
