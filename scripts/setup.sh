#!/usr/bin/env bash
# setup.sh: installs what building, running and testing ipp-portal needs on Debian.
# Idempotent and quick when everything is there.
#
#   bash scripts/setup.sh          everything (toolchain, browser, end-to-end test packages)
#   bash scripts/setup.sh run      what `make run` needs: no browser, no test packages
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/usr/local/bin:$PATH"

mode="${1:-all}"
if [ "$mode" = run ]; then
  WITH_BROWSER=0 SKIP_SELF_CHECK=1 bash scripts/install-toolchain.sh Cargo.lock
  exit 0
fi

SKIP_SELF_CHECK=1 bash scripts/install-toolchain.sh Cargo.lock

# `make lint` runs rustfmt and clippy, which rustup's minimal profile leaves out.
if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
  echo "    (skip) rustfmt and clippy installed"
else
  echo "==> rustup component add rustfmt clippy"
  rustup component add rustfmt clippy
fi

# Playwright drives Debian's Chromium; it must never download a browser of its own.
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  echo "==> npm ci in end2end/"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-fund --no-audit --loglevel=error)
else
  echo "    (skip) end2end/node_modules up to date"
fi
