#!/usr/bin/env bash
# Regenerates the README's screenshots with headless Chromium (`make screenshots`).
#   docs/screenshots.sh TERRAIN OUT
set -euo pipefail
terrain=$1
out=$2
figures=docs/figures
driver=Tests/TerrainWebTests/Browser/cdp.py
command -v chromium >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo; $SUDO apt-get install -y -qq chromium >/dev/null; }
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

# The live page of a running probe sweep, two seconds in.
rm -f "$out"/screenshot-probe.sqlite*
"$terrain" run examples/probe.yaml --workers 2 --dataset "$out/screenshot-probe.sqlite" --quiet --http 127.0.0.1:0 2>"$out/screenshot-probe.log" &
run=$!
url=$(url_of "$out/screenshot-probe.log")
python3 "$driver" "$url" --seconds 2.5 --screenshot "$figures/live-probe.png" --height 1100 >/dev/null
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
ls -l "$figures"/live-*.png "$figures"/report-*.png
