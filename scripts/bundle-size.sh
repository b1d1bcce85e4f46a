#!/usr/bin/env bash
# bundle-size.sh SITE_DIR: what the browser downloads for the portal (JS + WASM + CSS), raw
# and gzipped, against the budget of 250 KB gzipped. Over budget it warns loudly but does
# not fail: the build itself is good, and the figure is for people to act on.
set -euo pipefail
site="${1:-target/site}"
budget=$((250 * 1024))
total_raw=0; total_gz=0
while IFS= read -r file; do
  raw=$(stat -c %s "$file"); gz=$(gzip -9 -c "$file" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '  %-40s %9d bytes  %8d gzipped\n' "${file#"$site"/}" "$raw" "$gz"
done < <(find "$site/pkg" -type f \( -name '*.js' -o -name '*.wasm' -o -name '*.css' \) | sort)
printf '  %-40s %9d bytes  %8d gzipped (budget %d)\n' "total" "$total_raw" "$total_gz" "$budget"
if [ "$total_gz" -gt "$budget" ]; then
  echo "WARNING: the browser bundle is over the 250 KB gzipped budget" >&2
fi
