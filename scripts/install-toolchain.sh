#!/usr/bin/env bash
# install-toolchain.sh - installs what building the portal (Leptos SSR + WASM hydration) with
# scripts/build-site.sh needs on Debian 12 with a rustup toolchain: the wasm32 target, the
# wasm-bindgen CLI matching Cargo.lock, a current wasm-opt, esbuild, and (unless
# WITH_BROWSER=0) Debian's Chromium. cargo-leptos is not needed.
#
# Idempotent: every step checks first and is skipped when already done.
#
# Usage:  bash scripts/install-toolchain.sh [path/to/Cargo.lock]   (scripts/setup.sh calls it)
#   Run it from the project root: if the project pins a toolchain (rust-toolchain.toml), the
#   wasm32 target is added to that toolchain.
#   With a Cargo.lock, the wasm-bindgen CLI version is taken from it (it must equal the
#   wasm-bindgen crate version the project is locked to).
#
# Environment (all optional):
#   WASM_BINDGEN_VERSION   wasm-bindgen CLI version (default 0.2.130, or read from the Cargo.lock argument)
#   ESBUILD_VERSION        esbuild (JS/CSS minifier) version from the npm registry (default 0.28.2)
#   BINARYEN_VERSION       binaryen (wasm-opt) version from the npm registry (default 132)
#   WITH_BROWSER=0         skip Debian's chromium (needed only for browser end-to-end tests)
#   WASM_STD_ROUTE=debian  do not try `rustup target add`; build the wasm32 std from Debian's
#                          rust-web sources instead (fallback route, see below)
#   SKIP_SELF_CHECK=1      skip the final hello-world wasm32 build
set -euo pipefail

ESBUILD_VERSION="${ESBUILD_VERSION:-0.28.2}"
BINARYEN_VERSION="${BINARYEN_VERSION:-132}"
WASM_BINDGEN_VERSION="${WASM_BINDGEN_VERSION:-0.2.130}"
WITH_BROWSER="${WITH_BROWSER:-1}"
WASM_STD_ROUTE="${WASM_STD_ROUTE:-rustup}"
SKIP_SELF_CHECK="${SKIP_SELF_CHECK:-0}"
TARGET=wasm32-unknown-unknown
# Name of the rustup toolchain that the fallback route links to Debian's rustc-web.
DEBIAN_TOOLCHAIN=debian-web

export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

log()  { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
skip() { printf '    (skip) %s\n' "$*"; }
die()  { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" != "" ]; then
  [ -f "$1" ] || die "no such Cargo.lock: $1"
  v=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$1")
  [ -n "$v" ] || die "wasm-bindgen not found in $1"
  WASM_BINDGEN_VERSION="$v"
  log "wasm-bindgen version from $1: $WASM_BINDGEN_VERSION"
fi

command -v rustup >/dev/null || die "rustup not found (expected in ~/.cargo/bin)"
command -v cargo  >/dev/null || die "cargo not found"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

# ---------------------------------------------------------------- apt packages
APT_UPDATED=0
apt_install() {   # apt_install pkg...  (installs only the missing ones)
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then skip "apt: $* already installed"; return; fi
  if [ "$APT_UPDATED" = 0 ]; then log "apt-get update"; $SUDO apt-get update -qq; APT_UPDATED=1; fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# rustup brings no C toolchain, yet Rust links through `cc`, and the bundled SQLite and ring
# compile C: without these the first cargo build stops at "linker `cc` not found".
apt_install gcc libc6-dev
# Passkeys (webauthn-rs) verify signatures with OpenSSL: its headers, found through pkg-config.
apt_install libssl-dev pkg-config

if [ "$WITH_BROWSER" = 1 ]; then
  log "Debian packages: chromium (headless browser for end-to-end tests)"
  apt_install chromium
fi

# ------------------------------------------------------------------ wasm-opt
# `scripts/build-site.sh --release` runs wasm-opt. Debian 12's binaryen (version 108) is too old:
# it rewrites the module without errors, but the page then fails at start-up with
# "WebAssembly.Table.set(): Argument 1 is invalid for table". The npm package `binaryen`
# ships a current wasm-opt (runs on Node.js) and is used instead, installed under /usr/local.
if wasm-opt --version 2>/dev/null | grep -q "version $BINARYEN_VERSION\b"; then
  skip "wasm-opt $BINARYEN_VERSION on PATH ($(command -v wasm-opt))"
else
  command -v npm >/dev/null || apt_install nodejs npm
  log "npm install -g --prefix /usr/local binaryen@$BINARYEN_VERSION (wasm-opt)"
  $SUDO npm install -g --prefix /usr/local --no-fund --no-audit "binaryen@$BINARYEN_VERSION"
  hash -r
  wasm-opt --version | grep -q "version $BINARYEN_VERSION\b" || \
    die "wasm-opt on PATH is $(command -v wasm-opt) ($(wasm-opt --version)); put /usr/local/bin first or: apt-get remove binaryen"
fi

# ------------------------------------------------------- wasm32 standard library
has_wasm_std() {  # has_wasm_std [+toolchain]
  local d
  d=$(rustc ${1:-} --print target-libdir --target "$TARGET" 2>/dev/null) || return 1
  compgen -G "$d/libstd-*.rlib" >/dev/null
}

debian_wasm_std() {
  # Fallback: Debian's rustc-web (same version as rust-web-src) + lld of the same LLVM version.
  # std for wasm32 is compiled once with -Zbuild-std and installed into rustc-web's sysroot
  # (/usr/lib/rustlib/wasm32-unknown-unknown/lib), then /usr is linked as a rustup toolchain.
  apt_install rustc-web cargo-web rust-web-src lld-22
  local sysroot=/usr/lib/rustlib
  if [ ! -e "$sysroot/x86_64-unknown-linux-gnu/bin/rust-lld" ]; then
    log "link $sysroot/x86_64-unknown-linux-gnu/bin/rust-lld -> lld-22 (rustc's default wasm linker)"
    $SUDO mkdir -p "$sysroot/x86_64-unknown-linux-gnu/bin"
    $SUDO ln -sf /usr/lib/llvm-22/bin/lld "$sysroot/x86_64-unknown-linux-gnu/bin/rust-lld"
  else skip "rust-lld link exists"; fi
  if ! rustup toolchain list | grep -q "^$DEBIAN_TOOLCHAIN"; then
    log "rustup toolchain link $DEBIAN_TOOLCHAIN /usr"
    rustup toolchain link "$DEBIAN_TOOLCHAIN" /usr
  else skip "rustup toolchain $DEBIAN_TOOLCHAIN exists"; fi
  if has_wasm_std "+$DEBIAN_TOOLCHAIN"; then skip "wasm32 std already in $sysroot/$TARGET"; return; fi
  log "building std for $TARGET from /usr/lib/rustlib/src/rust/library with -Zbuild-std (a few minutes)"
  local tmp; tmp=$(mktemp -d)
  cargo +"$DEBIAN_TOOLCHAIN" new --lib --quiet "$tmp/stdbuild"
  ( cd "$tmp/stdbuild" && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$tmp/target" \
      cargo +"$DEBIAN_TOOLCHAIN" build --release --quiet --target "$TARGET" \
      -Zbuild-std=std,panic_abort )
  $SUDO mkdir -p "$sysroot/$TARGET/lib"
  local f n=0
  for f in "$tmp/target/$TARGET/release/deps"/lib*.rlib; do
    case "$(basename "$f")" in libstdbuild-*) continue;; esac
    $SUDO cp "$f" "$sysroot/$TARGET/lib/"; n=$((n+1))
  done
  rm -rf "$tmp"
  log "installed $n rlibs into $sysroot/$TARGET/lib"
  has_wasm_std "+$DEBIAN_TOOLCHAIN" || die "wasm32 std still not usable by +$DEBIAN_TOOLCHAIN"
}

WASM_TOOLCHAIN=""   # empty = the default rustup toolchain
if [ "$WASM_STD_ROUTE" = debian ]; then
  debian_wasm_std
  WASM_TOOLCHAIN="$DEBIAN_TOOLCHAIN"
elif has_wasm_std; then
  skip "wasm32 std present in default toolchain ($(rustc --version))"
elif has_wasm_std "+$DEBIAN_TOOLCHAIN"; then
  # Built on an earlier run because rustup could not add the target: no second attempt.
  skip "wasm32 std present in +$DEBIAN_TOOLCHAIN (Debian rust-web)"
  WASM_TOOLCHAIN="$DEBIAN_TOOLCHAIN"
elif { log "rustup target add $TARGET"; timeout 600 rustup target add "$TARGET"; } && has_wasm_std; then
  log "wasm32 std installed by rustup"
else
  log "rustup could not install the $TARGET std; using the Debian rust-web fallback"
  debian_wasm_std
  WASM_TOOLCHAIN="$DEBIAN_TOOLCHAIN"
fi

# --------------------------------------------------------------- esbuild
# `scripts/build-site.sh --release` minifies the wasm-bindgen loader (JS) and the stylesheet
# with it: a single binary from the npm registry, installed under /usr/local like wasm-opt.
if [ "$(esbuild --version 2>/dev/null)" = "$ESBUILD_VERSION" ]; then
  skip "esbuild $ESBUILD_VERSION on PATH ($(command -v esbuild))"
else
  command -v npm >/dev/null || apt_install nodejs npm
  log "npm install -g --prefix /usr/local esbuild@$ESBUILD_VERSION (JS and CSS minifier)"
  # Its install script only swaps its launcher for the binary: not needed.
  $SUDO npm install -g --prefix /usr/local --no-fund --no-audit --ignore-scripts "esbuild@$ESBUILD_VERSION"
  hash -r
  [ "$(esbuild --version)" = "$ESBUILD_VERSION" ] || \
    die "esbuild on PATH is $(command -v esbuild) ($(esbuild --version)); put /usr/local/bin first"
fi

# --------------------------------------------------------------- wasm-bindgen CLI
# scripts/build-site.sh runs the `wasm-bindgen` found on PATH; its version must equal the
# project's wasm-bindgen crate version (Cargo.lock). Its prebuilt binaries are published on
# GitHub only, which these machines cannot reach, so it is compiled, and only what the
# `wasm-bindgen` command needs: not the test runner's TLS client (default feature
# `rustls-tls`), nor the other two binaries (250 s of CPU instead of 290 s).
version_of() { "$1" --version 2>/dev/null | awk '{print $2}'; }
if [ "$(version_of wasm-bindgen)" = "$WASM_BINDGEN_VERSION" ]; then
  skip "wasm-bindgen-cli $WASM_BINDGEN_VERSION installed"
else
  log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION --bin wasm-bindgen (about 2 min on 2 cores)"
  install_bindgen() {
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" \
      --no-default-features --bin wasm-bindgen --force "$@"
  }
  # --locked: the versions wasm-bindgen's authors tested. Should the registry lack one of
  # them, resolve afresh (0.2.130's lock names webpki-roots 1.0.11, which crates.io does not
  # serve: that install stops at once with an error, and the second one is the real one).
  install_bindgen --locked || { log "retrying without --locked"; install_bindgen; }
fi

# ------------------------------------------------------------------ summary
log "installed:"
printf '    %-14s %s\n' rustc "$(rustc ${WASM_TOOLCHAIN:++$WASM_TOOLCHAIN} --version)" \
  wasm-bindgen "$(wasm-bindgen --version)" wasm-opt "$(wasm-opt --version)" \
  esbuild "$(esbuild --version)"
if [ "$WITH_BROWSER" = 1 ]; then
  printf '    %-14s %s\n' chromium "$(/usr/bin/chromium --version 2>/dev/null | head -1)"
fi
if [ -n "$WASM_TOOLCHAIN" ]; then
  log "wasm32 builds use +$WASM_TOOLCHAIN (scripts/wasm-toolchain.sh finds it for build-site.sh and make lint)"
fi

# ---------------------------------------------------------------- self-check
if [ "$SKIP_SELF_CHECK" = 1 ]; then skip "self-check"; exit 0; fi
log "self-check: hello world (with std) -> $TARGET"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tc=""; [ -n "$WASM_TOOLCHAIN" ] && tc="+$WASM_TOOLCHAIN"
cargo $tc new --quiet --lib "$tmp/hello"
cat > "$tmp/hello/src/lib.rs" <<'EOF'
use std::collections::HashMap;
#[unsafe(no_mangle)]
pub extern "C" fn answer(n: u32) -> u32 {
    let mut m = HashMap::new();
    m.insert(n, format!("hello {n}"));
    m[&n].len() as u32
}
EOF
printf '\n[lib]\ncrate-type = ["cdylib"]\n' >> "$tmp/hello/Cargo.toml"
( cd "$tmp/hello" && CARGO_TARGET_DIR="$tmp/target" cargo $tc build --quiet --release --target "$TARGET" )
wasm="$tmp/target/$TARGET/release/hello.wasm"
[ "$(head -c4 "$wasm" | od -An -c | tr -d ' ')" = '\0asm' ] || die "self-check: $wasm is not a wasm module"
# the flags scripts/build-site.sh passes (those cargo-leptos passes by default)
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$wasm" -o "$tmp/hello.opt.wasm"
log "self-check OK: $(stat -c %s "$wasm") bytes, $(stat -c %s "$tmp/hello.opt.wasm") after wasm-opt"
