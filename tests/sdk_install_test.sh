#!/usr/bin/env bash
# Proves the installed SDK is enough to write a plugin: stages `meson install`
# of a vitals build into a temporary root, builds a copy of sdk/template
# against that root alone with its own meson, runs the template's unit test,
# and, given a vitals binary, checks that `vitals plugins` lists `hello`.
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

# A copy outside the source tree: a path into the tree would not resolve.
step "building sdk/template against the staged SDK only"
cp -r "$SOURCE/sdk/template" "$TMP/hello"
rm -rf "$TMP/hello/build"
meson setup "$TMP/hello-build" "$TMP/hello" -Dwerror=true >"$TMP/hello-setup.log" ||
  { cat "$TMP/hello-setup.log" >&2; fail "meson setup of the template failed"; }
ninja -C "$TMP/hello-build"

step "running the template's unit test"
meson test -C "$TMP/hello-build" --print-errorlogs

step "installing vitals-hello.so into the staged plugindir"
meson install -C "$TMP/hello-build" --quiet
[[ -f $plugindir/vitals-hello.so ]] || fail "vitals-hello.so not installed in $plugindir"

if [[ -n $VITALS && -x $VITALS ]]; then
  step "$VITALS plugins --plugin-dir $plugindir"
  listing=$("$VITALS" plugins --plugin-dir "$plugindir")
  echo "$listing"
  grep -qE '^[[:space:]]*hello([[:space:]]|$)' <<<"$listing" || fail "vitals plugins does not list hello"
elif [[ -n $VITALS ]]; then
  echo "skip: no vitals binary at $VITALS, plugin listing not checked"
fi

echo "PASS: the installed SDK builds, tests and installs the template plugin"
