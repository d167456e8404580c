# Shared by ci/demo and ci/test: install what is missing, build, and set up the venv.
# Idempotent: on a machine that has everything it only checks.
set -euo pipefail

HB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HB_VENV="${HB_VENV:-$HB_ROOT/.venv}"
HB_PYTHON="${HB_PYTHON:-python3}"

# Debian packages the build and the emulated bench need (docs/ARCHITECTURE.md, Dependencies).
HB_DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost-test-dev libserialport-dev libusb-1.0-0-dev umockdev libumockdev-dev
  python3-gi gir1.2-umockdev-1.0  # tests/peers/usbtmc_gi_device.py: an independent USBTMC device
  libfmt-dev libssl-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libasio-dev
  clang-format clang libclang-rt-14-dev  # the last: libFuzzer + ASan runtimes (not pulled in without recommends)
  # reports/tests/test_browser.py: the HTML reports opened in headless Chromium (Selenium)
  chromium chromium-driver
  # reports/tests/test_pdf.py: a page of the PDF report turned into PNG and text
  poppler-utils libpango-1.0-0 libpangoft2-1.0-0  # the last two: WeasyPrint (the pdf writer)
  socat  # benchmarks/bench_proxy.py: the plain relay hilbench-proxy is compared with
)

hb_log() { printf '\033[1m[hilbench]\033[0m %s\n' "$*" >&2; }

hb_install_system_packages() {
  local missing=()
  for package in "${HB_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if ((${#missing[@]} == 0)); then
    hb_log "Debian packages: all present"
    return
  fi
  hb_log "installing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  "${sudo[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# pip's CMake tree (pyproject.toml: build-dir). ci/test builds the Boost.Test suites in the
# same tree, so the core and the emulators are compiled once for the package and for ctest.
HB_BUILD="$HB_ROOT/build/python"

# hb_setup_venv [CMAKE_DEFINE=VALUE...]: extra CMake definitions for pip's build.
hb_setup_venv() {
  if [[ ! -x "$HB_VENV/bin/python" ]]; then
    hb_log "creating venv $HB_VENV"
    "$HB_PYTHON" -m venv "$HB_VENV"
  fi
  local defines=()
  for define in "$@"; do defines+=("--config-settings=cmake.define.$define"); done
  hb_log "building and installing hilbench (pip install -e .[test]${*:+; $*})"
  # --no-build-isolation would be faster, but isolation proves the build needs nothing
  # beyond what pyproject.toml declares.
  "$HB_VENV/bin/python" -m pip install -q --disable-pip-version-check "${defines[@]}" \
    -e "$HB_ROOT[test]"
}

# Configures and builds the fuzz targets (fuzz/, docs/fuzzing.md) in their own tree with clang:
# only the targets and the core sources they compile, never the emulator or the tests.
hb_fuzz_build() {
  local build="$1"
  cmake -S "$HB_ROOT" -B "$build" -G Ninja -DHILBENCH_BUILD_FUZZERS=ON -DHILBENCH_BUILD_PYTHON=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE= \
    -DCMAKE_C_FLAGS="-O1 -g" -DCMAKE_CXX_FLAGS="-O1 -g" >/dev/null
  cmake --build "$build" --target hilbench_fuzzers --parallel 2
}

hb_setup() {
  hb_install_system_packages
  hb_setup_venv "$@"
}
