#!/usr/bin/env bash
# Browser test of `qlab report`: run a small experiment with a fault, write
# its report.html, open it in headless Chromium (Debian's package, installed
# here if missing) with file access, and check from the rendered DOM that
# every figure loaded and the expected headings are there. A screenshot is
# kept in target/ci-artifacts/report.png.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing chromium (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/report-demo"
cargo build --release --bin qlab
./target/release/qlab run experiments/report-demo.yaml --out "$out"
./target/release/qlab check "$out"
./target/release/qlab report "$out"

browser=(chromium --headless --no-sandbox --disable-gpu --allow-file-access-from-files
         --user-data-dir="$work/profile" --virtual-time-budget=10000)
dom="$(timeout 120 "${browser[@]}" --dump-dom "file://$out/report.html" 2>/dev/null)"

body="$(grep -o '<body[^>]*>' <<<"$dom" | head -1)"
echo "rendered: $body"
images="$(sed -n 's/.*data-images="\([0-9]*\)".*/\1/p' <<<"$body")"
broken="$(sed -n 's/.*data-broken-images="\([0-9]*\)".*/\1/p' <<<"$body")"
fail=0
if [[ -z "$images" || "$images" -lt 5 ]]; then echo "FAIL: expected at least 5 figures, got '${images}'"; fail=1; fi
if [[ "$broken" != "0" ]]; then echo "FAIL: ${broken:-?} broken image(s)"; fail=1; fi
for heading in "<h1>Experiment report-demo</h1>" "<h2>Summary</h2>" "<h2>Figures</h2>" "<h2>Recovery</h2>" "<h2>Provenance</h2>"; do
  if ! grep -qF "$heading" <<<"$dom"; then echo "FAIL: missing heading $heading"; fail=1; fi
done
mkdir -p target/ci-artifacts
timeout 120 "${browser[@]}" --hide-scrollbars --window-size=1200,3000 \
  --screenshot="$PWD/target/ci-artifacts/report.png" "file://$out/report.html" >/dev/null 2>&1 || true
exit "$fail"
