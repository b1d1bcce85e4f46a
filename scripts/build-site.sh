#!/usr/bin/env bash
# build-site.sh: builds the portal the way `cargo leptos build` does, with cargo, the
# wasm-bindgen CLI, wasm-opt and esbuild alone (no cargo-leptos to install):
#
#   target/site/                        public/ copied as it is (favicon, ...)
#   target/site/pkg/ipp-portal.wasm     `frontend` compiled to wasm32, through wasm-bindgen
#   target/site/pkg/ipp-portal.js       wasm-bindgen's loader (`--target web`)
#   target/site/pkg/ipp-portal.css      style/main.css
#   target/debug/ipp-portal             the server (target/release/ with --release)
#
# With --release the browser bundle gets what cargo-leptos gives it: the `wasm-release`
# profile, `wasm-opt -Oz` with its flags, and minified JS and CSS.
#
# The names come from `[[workspace.metadata.leptos]]` in Cargo.toml; the server finds the site with its defaults (server/src/startup.rs:
# `target/site`, `pkg`, and the output name compiled in from .cargo/config.toml).
#
# Usage: bash scripts/build-site.sh [--release]      (make run, make build and make test-e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

release=0
case "${1:-}" in
  --release) release=1 ;;
  "") ;;
  *) echo "usage: bash scripts/build-site.sh [--release]" >&2; exit 2 ;;
esac

started=$SECONDS
log() { printf '\033[1;34m==>\033[0m [%3ds] %s\n' $((SECONDS - started)) "$*"; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# One value of [[workspace.metadata.leptos]] in Cargo.toml, unquoted.
meta() {
  awk -v key="$1" '
    /^\[\[workspace\.metadata\.leptos\]\]/ { inside = 1; next }
    /^\[/ { inside = 0 }
    inside && $1 == key {
      sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*#.*$/, ""); gsub(/"/, ""); print; exit
    }' Cargo.toml
}
output_name=$(meta name)
lib_package=$(meta lib-package)
bin_package=$(meta bin-package)
bin_target=$(meta bin-target)
site_root=$(meta site-root)
pkg_dir="$site_root/$(meta site-pkg-dir)"
style_file=$(meta style-file)
assets_dir=$(meta assets-dir)
lib_profile_release=$(meta lib-profile-release)
for v in output_name lib_package bin_package bin_target site_root style_file assets_dir lib_profile_release; do
  [ -n "${!v}" ] || die "Cargo.toml [[workspace.metadata.leptos]] has no ${v//_/-}"
done

# cargo-leptos compiles the bundle in a target directory of its own: the wasm and the
# server builds then run side by side without waiting on each other's lock. Keeping its
# place also keeps the cache of anyone who built with cargo-leptos before.
front_target=target/front
if [ "$release" = 1 ]; then
  lib_profile=$lib_profile_release; bin_profile=release
else
  lib_profile=dev; bin_profile=dev
fi
profile_dir() { case "$1" in dev) echo debug ;; *) echo "$1" ;; esac; }
wasm_in="$front_target/wasm32-unknown-unknown/$(profile_dir "$lib_profile")/${lib_package//-/_}.wasm"

# .cargo/config.toml sets LEPTOS_OUTPUT_NAME (compiled in) for every cargo command; the
# server reads the other LEPTOS_* settings at run time. The two names must agree.
grep -q "^LEPTOS_OUTPUT_NAME = \"$output_name\"" .cargo/config.toml || \
  die ".cargo/config.toml must set LEPTOS_OUTPUT_NAME = \"$output_name\" (Cargo.toml's name)"

# The toolchain that has the wasm32 standard library: the default one, or the one
# scripts/install-toolchain.sh links from Debian's rust-web when rustup cannot add it.
wasm_toolchain=$(bash scripts/wasm-toolchain.sh) || die "no toolchain has the wasm32 standard library: run make setup"

# --------------------------------------------------------------------- tools
want_bindgen=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have_bindgen=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }') || true
[ "$have_bindgen" = "$want_bindgen" ] || \
  die "the wasm-bindgen CLI must be version $want_bindgen (Cargo.lock), found '${have_bindgen:-none}': run make setup"
if [ "$release" = 1 ]; then
  command -v wasm-opt >/dev/null || die "wasm-opt not found: run make setup"
  command -v esbuild >/dev/null || die "esbuild not found: run make setup"
fi

# --------------------------------------------------------------------- cargo builds
# Side by side, as cargo-leptos does: each chain ends on one core (the app crate, then the
# link), so together they keep both cores busy. The server's output is held back until the
# bundle's build is over, so the two do not mix. The server's build runs in a session of its
# own so that an interrupted script (Ctrl-C) stops it too, and with it its hold on target/.
log "cargo build: $lib_package (wasm32, profile $lib_profile) and $bin_package (profile $bin_profile)"
server_log=$(mktemp)
server_pid=""
stop_server_build() {
  if [ -n "$server_pid" ]; then kill -TERM -- "-$server_pid" 2>/dev/null || true; fi
  rm -f "$server_log"
}
trap stop_server_build EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
setsid cargo build --package="$bin_package" --bin="$bin_target" --no-default-features \
  --profile="$bin_profile" >"$server_log" 2>&1 &
server_pid=$!
front_status=0
cargo $wasm_toolchain build --package="$lib_package" --lib --target=wasm32-unknown-unknown \
  --target-dir="$front_target" --no-default-features --profile="$lib_profile" || front_status=$?
[ "$front_status" = 0 ] || log "cargo build of $lib_package failed; waiting for $bin_package"
server_status=0; wait "$server_pid" || server_status=$?
server_pid=""
cat "$server_log"
[ "$front_status" = 0 ] || die "cargo build of $lib_package failed (its errors are above the server's output)"
[ "$server_status" = 0 ] || die "cargo build of $bin_package failed"
log "cargo builds done"

# --------------------------------------------------------------------- bundle
# wasm-bindgen, wasm-opt and the JS minifier take seconds: they run again only when the
# wasm cargo produced, the profile or one of the tools changed.
tool_versions="$have_bindgen"
[ "$release" = 1 ] && tool_versions="$tool_versions $(wasm-opt --version) $(esbuild --version)"
stamp_file=target/.site-pkg-stamp
stamp="$lib_profile $(sha256sum "$wasm_in" | cut -d' ' -f1) $tool_versions"
js="$pkg_dir/$output_name.js"
wasm="$pkg_dir/$output_name.wasm"
if [ -f "$js" ] && [ -f "$wasm" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
  log "wasm unchanged: keeping $js and $wasm"
else
  rm -f "$stamp_file"
  rm -rf "$pkg_dir"
  mkdir -p "$pkg_dir"
  log "wasm-bindgen --target web -> $pkg_dir"
  wasm-bindgen --target web --no-typescript --out-name "$output_name" --out-dir "$pkg_dir" "$wasm_in"
  # Leptos' <HydrationScripts> loads `<name>.wasm` (cargo-leptos renames it the same way).
  mv "$pkg_dir/${output_name}_bg.wasm" "$wasm"
  if [ "$release" = 1 ]; then
    log "wasm-opt -Oz (the flags cargo-leptos passes)"
    wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int "$wasm" -o "$wasm"
    log "esbuild --minify $js"
    esbuild "$js" --minify --format=esm --log-level=warning --allow-overwrite --outfile="$js"
  fi
  echo "$stamp" >"$stamp_file"
fi

# --------------------------------------------------------------------- style, public/
css="$pkg_dir/$output_name.css"
if [ "$release" = 1 ]; then
  esbuild "$style_file" --minify --log-level=warning --outfile="$css"
else
  cp "$style_file" "$css"
fi
# The site root holds public/ and pkg/ only: files removed from public/ go too.
find "$site_root" -mindepth 1 -maxdepth 1 ! -path "${pkg_dir%/}" -exec rm -rf {} +
cp -R "$assets_dir/." "$site_root/"

log "done: $site_root and target/$(profile_dir "$bin_profile")/$bin_target"
