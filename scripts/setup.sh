#!/usr/bin/env bash
# Installs the Debian packages npuvp needs (idempotent; quick when all are present).
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config libsystemc-dev libyaml-cpp-dev
          libboost-program-options-dev catch2 nlohmann-json3-dev python3 python3-matplotlib)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
