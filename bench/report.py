#!/usr/bin/env python3
"""Assembles one report from the outputs of a `make bench` run (bench/run.sh).

Usage: bench/report.py <run directory> <out prefix>
Reads <run directory>/<script>-<workers>w.txt (ingest, query, rollup, realtime; 0 and 2 workers) and
writes <out prefix>.md (tables), <out prefix>.json (every figure) and <out prefix>.svg (a bar chart
of the ratios to plain PostgreSQL). A script that did not run or failed leaves its rows out, and the
report says so. Ratios are "how many times plain PostgreSQL's time" (higher is better for rollup)
unless the row says otherwise."""
import json
import os
import re
import sys


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def num(s):
    return float(s) if s is not None else None


def parse_ingest(text):
    rows = []
    for m in re.finditer(r"^(single-row INSERT, \d+ clients?|1000-row INSERT, 1 client|COPY \d+ rows \(\w+\))\s+"
                         r"([\d.]+) (tps|s)\s+([\d.]+) (?:tps|s)\s+([\d.]+)\s+(\S+)", text, re.M):
        name, plain, unit, dist, ratio, target = m.groups()
        rows.append({"benchmark": "ingest: " + name, "plain": float(plain), "rollup": float(dist), "unit": unit,
                     "ratio": float(ratio), "target": target,
                     "meaning": "rollup throughput / plain" if unit == "tps" else "plain time / rollup time"})
    return rows


def parse_query(text):
    rows = []
    dist = re.search(r"^dashboard, distributed:\s+([\d.]+) ms", text, re.M)
    serial = re.search(r"^dashboard, plain \(no parallel\):\s+([\d.]+) ms", text, re.M)
    par = re.search(r"^dashboard, plain \(2 workers\):\s+([\d.]+) ms", text, re.M)
    if dist and serial:
        rows.append({"benchmark": "dashboard query over all raw rows vs plain serial", "plain": num(serial.group(1)),
                     "rollup": num(dist.group(1)), "unit": "ms",
                     "ratio": round(float(serial.group(1)) / float(dist.group(1)), 2), "target": ">=2.5 (vs parallel)",
                     "meaning": "plain time / rollup time"})
    if dist and par:
        rows.append({"benchmark": "dashboard query over all raw rows vs plain 2 parallel workers",
                     "plain": num(par.group(1)), "rollup": num(dist.group(1)), "unit": "ms",
                     "ratio": round(float(par.group(1)) / float(dist.group(1)), 2), "target": ">=2.5",
                     "meaning": "plain time / rollup time"})
    m = re.search(r"^rollup table \((\d+) rows\), distributed: ([\d.]+) ms; plain: ([\d.]+) ms", text, re.M)
    if m:
        rows.append({"benchmark": f"rollup-table query ({m.group(1)} rows)", "plain": num(m.group(3)),
                     "rollup": num(m.group(2)), "unit": "ms",
                     "ratio": round(float(m.group(3)) / float(m.group(2)), 2), "target": "< 1.5 ms",
                     "meaning": "plain time / rollup time"})
    m = re.search(r"^router lookup: ([\d.]+) ms; local primary-key lookup: ([\d.]+) ms", text, re.M)
    if m:
        rows.append({"benchmark": "router lookup vs local primary-key lookup", "plain": num(m.group(2)),
                     "rollup": num(m.group(1)), "unit": "ms", "ratio": round(float(m.group(2)) / float(m.group(1)), 2),
                     "target": ">= 0.67 (within 1.5x)", "meaning": "plain time / rollup time"})
    m = re.search(r"^memory during the dashboard query .*: distributed \+?(-?\d+) MB; plain \(2 workers\) \+?(-?\d+) MB",
                  text, re.M)
    if m:
        rows.append({"benchmark": "peak server memory growth during the dashboard query (MB)", "plain": num(m.group(2)),
                     "rollup": num(m.group(1)), "unit": "MB", "ratio": None, "target": "< +100 MB over plain",
                     "meaning": "extra MB"})
    return rows


def parse_rollup(text):
    rows = []
    plain = re.search(r"^plain PostgreSQL INSERT .*: (\d+) ms", text, re.M)
    first = re.search(r"^native rollup, first run .*?: +(\d+) ms", text, re.M)
    nothing = re.search(r"^native rollup, run with nothing new: +(\d+) ms", text, re.M)
    second = re.search(r"^native rollup, run over a minute of \d+ new rows .*?: +(\d+) ms; the same on an empty table: +(\d+) ms", text, re.M)
    if plain and first:
        rows.append({"benchmark": "rollup first run vs plain INSERT ... SELECT ... GROUP BY", "plain": num(plain.group(1)),
                     "rollup": num(first.group(1)), "unit": "ms",
                     "ratio": round(float(plain.group(1)) / float(first.group(1)), 2), "target": ">=1.2",
                     "meaning": "plain time / rollup time"})
    if first and nothing:
        rows.append({"benchmark": "rollup run with nothing new (share of the first run)", "plain": num(first.group(1)),
                     "rollup": num(nothing.group(1)), "unit": "ms",
                     "ratio": round(float(nothing.group(1)) / float(first.group(1)), 3), "target": "< 0.05",
                     "meaning": "rollup time / first run time"})
    tutorial = re.search(r"^the tutorial's PL/pgSQL rollup .*?: +(\d+) ms", text, re.M)
    if first and tutorial:
        rows.append({"benchmark": "the tutorial's PL/pgSQL rollup on the same rows (for comparison)",
                     "plain": num(tutorial.group(1)), "rollup": num(first.group(1)), "unit": "ms",
                     "ratio": round(float(tutorial.group(1)) / float(first.group(1)), 2), "target": "",
                     "meaning": "tutorial time / native first run time"})
    if second:
        rows.append({"benchmark": "rollup run over 1/10 new rows on a table 10 times their size (vs the same on an empty one)",
                     "plain": num(second.group(2)), "rollup": num(second.group(1)), "unit": "ms",
                     "ratio": round(float(second.group(1)) / float(second.group(2)), 2), "target": "<= 1.2",
                     "meaning": "big-table run time / empty-table run time"})
    return rows


def parse_realtime(text):
    rows = []
    raw = re.search(r"^dashboard query \(last 5 minutes\), raw rows of a plain table:\s+([\d.]+) ms", text, re.M)
    view = re.search(r"^dashboard query on the real-time view:\s+([\d.]+) ms", text, re.M)
    plain = re.search(r"^dashboard query on a plain table of the rollup's rows:\s+([\d.]+) ms", text, re.M)
    if raw and view:
        rows.append({"benchmark": "dashboard (last 5 min): real-time view vs raw rows", "plain": num(raw.group(1)),
                     "rollup": num(view.group(1)), "unit": "ms",
                     "ratio": round(float(raw.group(1)) / float(view.group(1)), 1), "target": ">=100",
                     "meaning": "plain time / rollup time"})
    if plain and view:
        rows.append({"benchmark": "dashboard (last 5 min): real-time view vs plain rollup table",
                     "plain": num(plain.group(1)), "rollup": num(view.group(1)), "unit": "ms",
                     "ratio": round(float(plain.group(1)) / float(view.group(1)), 3), "target": ">= 0.5 (within 2x)",
                     "meaning": "plain time / rollup time"})
    return rows


PARSERS = {"ingest": parse_ingest, "query": parse_query, "rollup": parse_rollup, "realtime": parse_realtime}


def svg_chart(rows):
    bars = [r for r in rows if r.get("ratio") is not None and r["meaning"] == "plain time / rollup time"
            or (r.get("ratio") is not None and r["meaning"] == "rollup throughput / plain")]
    if not bars:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40"><text x="5" y="25">no ratios</text></svg>'
    h_bar, gap, left, width = 18, 6, 420, 360
    top = max(max(r["ratio"] for r in bars), 1.0)
    height = 40 + len(bars) * (h_bar + gap)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<text x="5" y="15" font-size="13">ratio to plain PostgreSQL (log scale; 1 = as fast, right of the line = faster)</text>']
    import math
    lmax = math.log10(top) + 0.2
    lmin = -1.0
    def x(v):
        v = max(v, 10 ** lmin)
        return left + (math.log10(v) - lmin) / (lmax - lmin) * width
    out.append(f'<line x1="{x(1):.1f}" y1="22" x2="{x(1):.1f}" y2="{height - 4}" stroke="#999" stroke-dasharray="3,3"/>')
    for i, r in enumerate(bars):
        y = 26 + i * (h_bar + gap)
        color = "#2ca02c" if r["ratio"] >= 1 else "#d62728"
        label = f'{r["benchmark"]} [{r["setup"]}]'
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{label[:70]}</text>')
        out.append(f'<rect x="{left}" y="{y}" width="{max(1.0, x(r["ratio"]) - left):.1f}" height="{h_bar}" fill="{color}"/>')
        out.append(f'<text x="{x(r["ratio"]) + 4:.1f}" y="{y + 13}">{r["ratio"]}x</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    run_dir, prefix = sys.argv[1], sys.argv[2]
    rows, missing = [], []
    for script, parse in PARSERS.items():
        for workers in (0, 2):
            text = read(os.path.join(run_dir, f"{script}-{workers}w.txt"))
            setup = "single node, 32 shards" if workers == 0 else "coordinator + 2 workers"
            if not text:
                missing.append(f"{script} ({setup})")
                continue
            for r in parse(text):
                r["setup"] = setup
                r["script"] = script
                rows.append(r)
    meta = {}
    for k in ("date", "rows", "cores", "note"):
        v = os.environ.get("BENCH_META_" + k.upper())
        if v:
            meta[k] = v
    with open(prefix + ".json", "w") as f:
        json.dump({"meta": meta, "results": rows, "missing": missing}, f, indent=2)
    with open(prefix + ".svg", "w") as f:
        f.write(svg_chart(rows))
    lines = [f"# rollup benchmark report {meta.get('date', '')}", "",
             f"Same run, same machine ({meta.get('cores', '?')} cores), BENCH_ROWS={meta.get('rows', '?')}. "
             "Plain PostgreSQL is the same server with local tables (serial, and with 2 parallel workers where the "
             "query can use them). Ratios: plain time / rollup time (or rollup / plain throughput), so above 1 "
             "means rollup is faster, except where the row says otherwise. Sources: the per-script reports next "
             "to this file.", "",
             "| benchmark | setup | plain | rollup | ratio | target |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f'{r["ratio"]}'
        meaning = "" if r["meaning"] in ("plain time / rollup time", "rollup throughput / plain") else f' ({r["meaning"]})'
        lines.append(f'| {r["benchmark"]}{meaning} | {r["setup"]} | {r["plain"]} {r["unit"]} | {r["rollup"]} {r["unit"]} '
                     f'| {ratio} | {r["target"]} |')
    if missing:
        lines += ["", "Not measured in this run: " + ", ".join(missing) + "."]
    lines += ["", f"![ratios]({os.path.basename(prefix)}.svg)", ""]
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
