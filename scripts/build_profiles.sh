#!/usr/bin/env bash
# Compile the guide's FHIR Shorthand (profiles/fsh/) with SUSHI and copy the JSON into profiles/.
#
#   scripts/build_profiles.sh            # install fsh-sushi into .cache/node if needed, compile, copy
#   PROFILES_OUT=DIR scripts/build_profiles.sh   # compile into DIR instead (no snapshots; profiles/ untouched:
#                                                # tests/unit/ig/test_fsh_compiles.py diffs DIR with profiles/)
#
# SUSHI runs offline: the FHIR package hl7.fhir.r4.core#4.0.1 is rebuilt into ~/.fhir/packages from the
# npm package hl7.fhir.r4.examples@4.0.1 (scripts/r4_core_package.py).  The guide's own JSON resources
# (terminology/, the service-package extensions in profiles/extensions/) are staged as SUSHI "predefined
# resources" so FSH can refer to them.  Output: profiles/structuredefinitions/ (profiles),
# profiles/extensions/ (extensions), profiles/searchparameters/, profiles/measures/,
# profiles/namingsystems/, profiles/examples/.  SUSHI writes differentials only; the snapshots are then
# generated next to them (scripts/build_snapshots.py, over the full R4 definitions).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="$ROOT/.cache"
SUSHI_VERSION="${SUSHI_VERSION:-3.21.0}"
SUSHI="$CACHE/node/node_modules/.bin/sushi"
if [ ! -x "$SUSHI" ]; then
  mkdir -p "$CACHE/node"
  npm install --prefix "$CACHE/node" --no-audit --no-fund "fsh-sushi@$SUSHI_VERSION"
fi
if [ ! -f "$HOME/.fhir/packages/hl7.fhir.r4.core#4.0.1/package/.index.json" ]; then
  python "$ROOT/scripts/r4_core_package.py"
fi
OUT="${PROFILES_OUT:-$ROOT/profiles}"
if [ "$OUT" = "$ROOT/profiles" ]; then STAGE="$CACHE/sushi"; else STAGE="$OUT/.sushi-stage"; fi
rm -rf "$STAGE"
mkdir -p "$STAGE/input/vocabulary" "$STAGE/input/extensions"
cp "$ROOT/profiles/fsh/sushi-config.yaml" "$STAGE/"
cp -r "$ROOT/profiles/fsh/input/fsh" "$STAGE/input/fsh"
cp "$ROOT"/terminology/CodeSystem-*.json "$ROOT"/terminology/ValueSet-*.json "$STAGE/input/vocabulary/"
# Extensions written by scripts/build_service_packages.py (not FSH): predefined, not overwritten.
for id in timing-comparator timing-anchor delivery-mode; do
  cp "$ROOT/profiles/extensions/StructureDefinition-$id.json" "$STAGE/input/extensions/"
done
# Node's WebAssembly trap handler reserves ~10 GB of address space per instance (undici's HTTP parser);
# under an address-space limit (`ulimit -v`, as on shared CI machines) SUSHI would die with "Cannot
# allocate Wasm memory".  Without the trap handler V8 bounds-checks explicitly: same results.
if node --disable-wasm-trap-handler -e "" 2>/dev/null; then
  export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--disable-wasm-trap-handler"
fi
"$SUSHI" build "$STAGE" --out "$STAGE/out" 2>&1 | tee "$STAGE/sushi.log"
if grep -q "^error\|Errors: *[1-9]" "$STAGE/sushi.log" || grep -Eq "[1-9][0-9]* Errors" "$STAGE/sushi.log"; then
  echo "SUSHI reported errors (see $STAGE/sushi.log)" >&2
  exit 1
fi
python "$ROOT/scripts/place_profiles.py" "$STAGE/out/fsh-generated/resources" "$OUT"
if [ "$OUT" = "$ROOT/profiles" ]; then python "$ROOT/scripts/build_snapshots.py"; fi
