#!/usr/bin/env bash
# Proves the installed SDK is enough to write a plugin: stages `meson install`
# of a vitals build into a temporary root, builds copies of sdk/template and
# sdk/examples/thermal_zone against that root alone with their own meson,
# runs their unit tests and installs them into the staged plugindir. Given a
# vitals binary, it checks that the agent lists both, that `--describe` shows
# each one's sample.toml verbatim (embedded by the installed embed_sample.py),
# and that `vitals test` runs thermal_zone from a conf.d snippet on a fixture
# tree.
#
#   tests/sdk_install_test.sh <build-dir> [vitals-binary]
#
# Set KEEP_TMP=1 to keep the temporary tree for inspection.
set -euo pipefail

usage() {
  echo "usage: $0 <build-dir> [vitals-binary]" >&2
  exit 2
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

[[ $# -ge 1 && $# -le 2 ]] || usage
BUILD=$(cd "$1" && pwd) || usage
VITALS=${2:-}
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vitals-sdk-install.XXXXXX")
if [[ ${KEEP_TMP:-0} == 1 ]]; then
  echo "keeping $TMP"
else
  trap 'rm -rf "$TMP"' EXIT
fi
root=$TMP/root

step "meson install -C $BUILD --destdir $root"
meson install -C "$BUILD" --destdir "$root" --quiet

pc_file=$(find "$root" -name vitals-sdk.pc -print -quit)
[[ -n $pc_file ]] || fail "meson install did not install vitals-sdk.pc"

# The .pc file is relocatable (its prefix is relative to its own directory),
# so PKG_CONFIG_PATH alone finds the staged headers, as it would for an SDK
# unpacked anywhere.
export PKG_CONFIG_PATH="$(dirname "$pc_file")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
grep -q '^prefix=${pcfiledir}' "$pc_file" || fail "vitals-sdk.pc is not relocatable: $(grep '^prefix=' "$pc_file")"

step "checking the installed SDK"
includedir=$(pkg-config --variable=includedir vitals-sdk)
plugindir=$(pkg-config --variable=plugindir vitals-sdk)
[[ $includedir == "$root"/* ]] || fail "includedir $includedir is outside the staged root"
[[ $plugindir == "$root"/* ]] || fail "plugindir $plugindir is outside the staged root"
for header in plugin.h plugin.hpp testing.hpp config_schema.hpp selector.hpp series_name.hpp settings.hpp time_parse.hpp units.hpp; do
  [[ -f $includedir/vitals/$header ]] || fail "vitals/$header not installed in $includedir"
done
header_major=$(sed -n 's/^#define VITALS_ABI_MAJOR \([0-9]*\).*/\1/p' "$includedir/vitals/plugin.h")
pc_major=$(pkg-config --variable=abi_major vitals-sdk)
[[ $header_major == "$pc_major" ]] ||
  fail "vitals-sdk.pc says abi_major=$pc_major but plugin.h says VITALS_ABI_MAJOR $header_major"
for variable in version_script embed_sample; do
  file=$(pkg-config --variable=$variable vitals-sdk)
  [[ $file == "$root"/* ]] || fail "$variable $file is outside the staged root"
  [[ -f $file ]] || fail "$variable: $file is not installed"
done

# Builds, tests and installs a copy of an out-of-tree plugin's folder. A copy
# outside the source tree: a path into the tree would not resolve.
build_plugin() {
  local name=$1 folder=$2
  step "building $folder against the staged SDK only"
  cp -r "$SOURCE/$folder" "$TMP/$name"
  rm -rf "$TMP/$name/build"
  meson setup "$TMP/$name-build" "$TMP/$name" -Dwerror=true >"$TMP/$name-setup.log" ||
    { cat "$TMP/$name-setup.log" >&2; fail "meson setup of $folder failed"; }
  ! grep -q 'doctest/doctest.h not found' "$TMP/$name-setup.log" ||
    fail "no doctest: the unit test of $folder would be skipped"
  ninja -C "$TMP/$name-build"

  step "running the unit test of $folder"
  meson test -C "$TMP/$name-build" --print-errorlogs

  step "installing vitals-$name.so into the staged plugindir"
  meson install -C "$TMP/$name-build" --quiet
  [[ -f $plugindir/vitals-$name.so ]] || fail "vitals-$name.so not installed in $plugindir"
}
build_plugin hello sdk/template
build_plugin thermal_zone sdk/examples/thermal_zone

if [[ -n $VITALS && -x $VITALS ]]; then
  step "$VITALS plugins --plugin-dir $plugindir"
  listing=$("$VITALS" plugins --plugin-dir "$plugindir")
  echo "$listing"
  for name in hello thermal_zone; do
    grep -qE "^[[:space:]]*$name([[:space:]]|\$)" <<<"$listing" || fail "vitals plugins does not list $name"
  done

  # --describe ends with "Sample:" and then the plugin's sample_config.
  for plugin in hello=sdk/template thermal_zone=sdk/examples/thermal_zone; do
    name=${plugin%%=*}
    step "vitals plugins --describe $name"
    "$VITALS" plugins --describe "$name" --plugin-dir "$plugindir" >"$TMP/$name-describe.txt"
    sed -n '/^Sample:$/,$p' "$TMP/$name-describe.txt" | tail -n +2 >"$TMP/$name-described.toml"
    diff -u "$SOURCE/${plugin#*=}/sample.toml" "$TMP/$name-described.toml" ||
      fail "vitals plugins --describe $name does not show its sample.toml"
  done

  # Loaded the README's way, from a conf.d snippet, with root on a fixture.
  step "vitals test: thermal_zone from conf.d on a fixture tree"
  mkdir -p "$TMP/sys/thermal_zone0" "$TMP/sys/thermal_zone1" "$TMP/conf.d"
  echo 45000 >"$TMP/sys/thermal_zone0/temp"
  echo x86_pkg_temp >"$TMP/sys/thermal_zone0/type"
  echo 27800 >"$TMP/sys/thermal_zone1/temp"
  echo acpitz >"$TMP/sys/thermal_zone1/type"
  printf '[input.thermal_zone]\nroot = "%s"\n' "$TMP/sys" >"$TMP/conf.d/thermal.toml"
  samples=$("$VITALS" test --config-dir "$TMP/conf.d" --plugin-dir "$plugindir" --data-dir "$TMP/data")
  echo "$samples"
  grep -qE '^thermal_zone_celsius\{type="x86_pkg_temp",zone="thermal_zone0"\} 45 ' <<<"$samples" ||
    fail "vitals test did not print thermal_zone0 at 45 degrees"
  grep -qE '^thermal_zone_celsius\{type="acpitz",zone="thermal_zone1"\} 27\.8[0-9]* ' <<<"$samples" ||
    fail "vitals test did not print thermal_zone1 at 27.8 degrees"
elif [[ -n $VITALS ]]; then
  echo "skip: no vitals binary at $VITALS, the agent's side not checked"
fi

echo "PASS: the installed SDK builds, tests and installs the template and the thermal_zone example"
