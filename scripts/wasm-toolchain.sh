#!/usr/bin/env bash
# wasm-toolchain.sh: prints the `cargo +toolchain` argument that compiles for wasm32: nothing
# when the default toolchain has the wasm32 standard library (rustup's route), `+debian-web`
# when scripts/install-toolchain.sh had to build it from Debian's rust-web. Fails when
# neither has it. Used by scripts/build-site.sh and `make lint`.
set -euo pipefail
has_wasm_std() {
  local dir
  dir=$(rustc ${1:-} --print target-libdir --target wasm32-unknown-unknown 2>/dev/null) || return 1
  compgen -G "$dir/libstd-*.rlib" >/dev/null
}
if has_wasm_std; then
  echo ""
elif has_wasm_std +debian-web; then
  echo "+debian-web"
else
  exit 1
fi
