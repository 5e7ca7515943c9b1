#!/usr/bin/env bash
# `make demo` must keep working (issue 13): the demo runs with a short live part (DEMO_DURATION,
# default 20 s) and a coordinator with 2 workers, its output not a terminal (a frame every 5 s), and
# writes its report. The report is then rendered in a real headless browser (Debian's chromium): the
# charts in the rendered page must hold the run's data points, the same values as the samples the
# demo recorded (demo/report-samples.csv), and the page must render to a non-blank picture.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}
pass() { echo "PASS: $*"; }

command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh installs it)"
report=$out/report.html
rc=0
NODES=2 DURATION=${DEMO_DURATION:-20} RATE=500 REPORT=$report bash scripts/demo.sh >"$out/demo.log" 2>&1 </dev/null || rc=$?
if [ "$rc" != 0 ]; then
    tail -n 60 "$out/demo.log"
    fail "make demo exited with status $rc"
fi
pass "the demo ran (exit 0)"
grep -q "every tutorial step ran" "$out/demo.log" || { tail -n 40 "$out/demo.log"; fail "a tutorial step did not run"; }
pass "every tutorial step ran"
frames=$(grep -c "^rollup live dashboard" "$out/demo.log" || true)
[ "$frames" -ge 2 ] || fail "expected at least 2 dashboard frames, got $frames"
pass "$frames dashboard frames printed"
grep -A14 "^rollup live dashboard" "$out/demo.log" | tail -n 15
grep -Eq "^ingest [1-9][0-9]* rows/s" "$out/demo.log" || fail "no frame shows rows being ingested"
pass "frames show rows being ingested"
[ -s "$report" ] || fail "no report at $report"
[ ! -e demo/.running ] || fail "demo/.running left behind"

samples=${report%.html}-samples.csv
nsamples=$(($(wc -l <"$samples") - 1))
[ "$nsamples" -ge 5 ] || fail "expected at least 5 samples, got $nsamples"

dom=$out/dom.html
timeout 120 chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$report" >"$dom" 2>"$out/chromium.log" ||
    { tail -5 "$out/chromium.log"; fail "chromium could not render the report"; }
pass "chromium rendered the report"
# Each chart's points as the browser built them: circles with data-* attributes.
points() {  # points <chart id>: "series<TAB>t<TAB>v" per point, from the rendered DOM
    python3 - "$dom" "$1" <<'PY'
import html.parser, sys
dom, chart = sys.argv[1], sys.argv[2]
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.svg = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'svg': self.svg = a.get('id')
        if tag == 'circle' and self.svg == chart and a.get('class') == 'pt':
            print(f"{a['data-series']}\t{a['data-t']}\t{a['data-v']}")
    def handle_endtag(self, tag):
        if tag == 'svg': self.svg = None
P().feed(open(dom).read())
PY
}
for chart in requests errors ingest lag latency; do
    n=$(points "$chart" | wc -l)
    [ "$n" -ge 1 ] || fail "chart $chart has no data point in the rendered page"
done
pass "every chart holds data points"
# The ingest chart is the run's samples, value for value, in order.
got=$(points ingest | awk -F'\t' '{printf "%.1f\n", $3}')
want=$(python3 -c '
import csv, sys
for r in csv.DictReader(open(sys.argv[1])): print("%.1f" % float(r["ingest_rows_per_s"]))' "$samples")
[ "$got" = "$want" ] || { diff <(echo "$want") <(echo "$got") | head; fail "the ingest chart does not hold the run's samples"; }
pass "the ingest chart holds the $nsamples samples of the run"
got=$(points latency | wc -l)
[ "$got" = "$nsamples" ] || fail "the latency chart holds $got points, the run has $nsamples samples"
pass "the latency chart holds every sample"
# The requests chart: per site and minute, the real-time view's numbers; its total is at least the
# rows the generator sent during the run (it may hold earlier rows of the first minute too).
total=$(points requests | awk -F'\t' '{s += $3} END {print s + 0}')
[ "$total" -gt 0 ] || fail "the requests chart sums to $total"
pass "the requests chart holds $total requests"

png=$out/report.png
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1900 \
    --screenshot="$png" "file://$report" >/dev/null 2>&1 || fail "chromium could not take a screenshot"
size=$(stat -c %s "$png")
[ "$size" -gt 20000 ] || fail "the screenshot is $size bytes: a blank page?"
pass "the report renders to a $size-byte picture"
echo "demo_smoke: all passed"
