#!/usr/bin/env bash
# Installs what is missing (apt-get), builds weft and runs every test.
#   tools/test.sh              the release configuration
#   tools/test.sh --sanitize   also ASan+UBSan and TSan (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/deps.sh
weft_install_deps

presets=(release)
case "${1:-}" in
  --sanitize) presets+=(asan tsan) ;;
  "") ;;
  *) echo "usage: tools/test.sh [--sanitize]" >&2; exit 2 ;;
esac

jobs=$(nproc)
for preset in "${presets[@]}"; do
  echo "=== $preset ==="
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs"
done
