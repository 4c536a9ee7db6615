# Sourced by the tools/ scripts: installs the Debian packages weft needs to
# build, test and benchmark, when they are missing. (chromium: the HTML
# report's browser test, skipped where it is absent.)
weft_install_deps() {
  local packages=(g++ cmake make libboost-context-dev libgtest-dev
                  libbenchmark-dev libdw-dev libhttp-parser-dev libcli11-dev nlohmann-json3-dev
                  libssl-dev zlib1g-dev chromium)
  local missing=()
  for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "weft: installing ${missing[*]}" >&2
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}
