#!/usr/bin/env bash
# Install what a fresh Debian 12 machine needs to build and test Rosenblatt.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

host_pkgs=(build-essential cmake ninja-build pkg-config git python3
           libdrm-dev device-tree-compiler)
# The aarch64 preset: a cross compiler and arm64 libraries on other hosts. On
# an arm64 host (the board) the native gcc already answers to
# aarch64-linux-gnu-gcc and libdrm-dev is the arm64 one; the cross packages
# do not exist there. qemu-user runs the preset's tests either way.
if [ "$(dpkg --print-architecture)" = arm64 ]; then
  cross_pkgs=(qemu-user)
else
  cross_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
              libc6:arm64 libdrm-dev:arm64)
fi

missing=()
for p in "${host_pkgs[@]}" "${cross_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(dpkg --print-architecture)" != arm64 ] &&
   ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
