#!/usr/bin/env bash
# Regenerates the README's screenshots with headless Chromium (`make screenshots`).
#   docs/screenshots.sh TERRAIN OUT
set -euo pipefail
terrain=$1
out=$2
figures=docs/figures
driver=Tests/TerrainWebTests/Browser/cdp.py
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
command -v chromium >/dev/null || $SUDO apt-get install -y -qq chromium >/dev/null
# pngquant (256-colour palettes) keeps each image under ~300 kB.
command -v pngquant >/dev/null || $SUDO apt-get install -y -qq pngquant >/dev/null
mkdir -p "$out" "$figures"

# Waits for the "http: serving … on http://127.0.0.1:PORT/" line of a log; prints the URL.
url_of() {
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/' "$1" | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  echo "no HTTP address in $1" >&2; exit 1
}

# The live page of a running probe sweep, three seconds in: examples/probe.yaml with 60 ms
# tasks instead of 10 ms (it would finish before the page is drawn).
rm -f "$out"/screenshot-probe.sqlite*
sed 's/sleep_ms: 10 /sleep_ms: 60 /' examples/probe.yaml >"$out/screenshot-probe.yaml"
"$terrain" run "$out/screenshot-probe.yaml" --workers 2 --dataset "$out/screenshot-probe.sqlite" --quiet --http 127.0.0.1:0 2>"$out/screenshot-probe.log" &
run=$!
url=$(url_of "$out/screenshot-probe.log")
python3 "$driver" "$url" --seconds 3 --screenshot "$figures/live-probe.png" --height 1100 >/dev/null
kill "$run" 2>/dev/null || true
wait "$run" 2>/dev/null || true

# The live page and the report of `make run`'s 51×51 surface.
"$terrain" serve "$out/surface-mlp.sqlite" --http 127.0.0.1:0 2>"$out/screenshot-serve.log" &
serve=$!
url=$(url_of "$out/screenshot-serve.log")
python3 "$driver" "$url" --seconds 3 --screenshot "$figures/live-surface.png" --height 1200 >/dev/null
kill "$serve"
wait "$serve" 2>/dev/null || true
"$terrain" report "$out/surface-mlp.sqlite" --output "$out/surface-mlp.html"
python3 "$driver" "file://$PWD/$out/surface-mlp.html" --seconds 1.5 --screenshot "$figures/report-surface.png" --height 1400 >/dev/null
for png in "$figures"/live-*.png "$figures"/report-*.png; do
  pngquant --force --skip-if-larger --quality 60-95 --output "$png" "$png" || true
done
ls -l "$figures"/live-*.png "$figures"/report-*.png "$out/surface-mlp.html"
