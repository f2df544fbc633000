#!/usr/bin/env bash
# Render a genretag HTML report in headless Chromium and save a PNG, to check the page
# the way a person sees it. Needs Debian's chromium (apt-get install chromium); not run in CI.
#
#   benchmarks/screenshot_report.sh report.html [out.png] [height]
set -euo pipefail
report="${1:?usage: $0 report.html [out.png] [height]}"
out="${2:-${report%.html}.png}"
height="${3:-4000}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# The flags keep Chromium from contacting anything (no sync, updates or background
# requests), so the screenshot also shows whether the page works offline.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --screenshot="$(realpath -m "$out")" \
  --window-size="1280,${height}" "file://$(realpath "$report")" 2>/dev/null
echo "wrote $out"
