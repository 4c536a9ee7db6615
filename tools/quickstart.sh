#!/usr/bin/env bash
# Installs what is missing (apt-get), builds weft (Release) and runs the showcase.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
weft_install_deps
cmake -S . -B build/showcase -DCMAKE_BUILD_TYPE=Release -DWEFT_BUILD_TESTS=OFF \
  -DWEFT_BUILD_BENCH=OFF -DWEFT_BUILD_TOOLS=ON >/dev/null
cmake --build build/showcase -j "$(nproc)" --target weft-showcase
exec build/showcase/tools/weft-showcase
