#!/usr/bin/env bash
# Renders a run's index.html in headless Chromium (Debian package `chromium`), saves a screenshot
# of the top of the page (the overview) and fails if the page logs anything to its console (a
# script error, a console.error) or if the overview and contents are missing.
#
#   scripts/check-report.sh RUN_DIR [SCREENSHOT.png]
#
# `make check-report` runs it on the newest quick-suite run; tests/integration/report_browser.rs
# runs it on a small run when Chromium is installed (set LMGAUGE_REQUIRE_CHROMIUM=1 to fail there
# instead of skipping).
set -euo pipefail
run_dir=${1:?usage: scripts/check-report.sh RUN_DIR [SCREENSHOT.png]}
shot=${2:-$run_dir/screenshot.png}
page=$(cd "$run_dir" && pwd)/index.html
[ -f "$page" ] || { echo "no index.html in $run_dir" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "Chromium is not installed (apt-get install chromium)" >&2; exit 3; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Headless Chromium logs every console message of the page as INFO:CONSOLE on stderr.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 \
    --window-size=1280,1600 --screenshot="$shot" "file://$page" >"$log" 2>&1 || true
if grep -q ':CONSOLE' "$log"; then
    echo "index.html logged to the browser console:" >&2
    grep ':CONSOLE' "$log" >&2
    exit 1
fi
[ -s "$shot" ] || { echo "Chromium wrote no screenshot; its log:" >&2; cat "$log" >&2; exit 1; }
grep -q '<section id="overview">' "$page" && grep -q '<nav class="toc">' "$page" \
    || { echo "$page has no overview or contents" >&2; exit 1; }
echo "rendered without console messages; screenshot: $shot"
