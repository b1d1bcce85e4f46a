#!/usr/bin/env bash
# bundle-size.sh SITE_DIR: what the browser downloads for the portal (JS + WASM + CSS), raw
# and gzipped. The budget is 250 KB gzipped.
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
if [ "$total_gz" -gt "$budget" ]; then echo "over the 250 KB budget" >&2; exit 1; fi
