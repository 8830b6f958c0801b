#!/usr/bin/env python3
"""Turns bench JSON lines into one table (stdout), a JSON array and a Markdown page."""
import datetime
import json
import os
import platform
import re
import sys

today = str(datetime.date.today())
lines = [dict(json.loads(l), date=today) for l in open(sys.argv[1]) if l.startswith("{")]
if "--merge" in sys.argv[4:] and os.path.exists(sys.argv[2]):
    # A partial run (bench/run NAME...) replaces its benches' rows and keeps every other row,
    # in the order the last full run wrote them.
    old, fresh = json.load(open(sys.argv[2])), {r["bench"] for r in lines}
    merged, placed = [], set()
    for r in old:
        b = r["bench"]
        if b not in fresh:
            merged.append(r)
        elif b not in placed:
            merged += [n for n in lines if n["bench"] == b]
            placed.add(b)
    lines = merged + [n for n in lines if n["bench"] not in placed]
json.dump(lines, open(sys.argv[2], "w"), indent=1)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rows = []
for r in lines:
    if "case" not in r or "value" not in r:
        continue  # a bench with its own record (watermark): kept in the JSON, not in the table
    peer = f"{r['peer_value']:.4g} ({r['peer']})" if "peer" in r else ""
    ratio = f"{r['value'] / r['peer_value']:.2f}x" if r.get("peer_value") else ""
    rows.append((r["bench"], r["case"], f"{r['value']:.4g} {r['unit']}",
                 f"{100 * r['fraction_of_peak']:.1f}%" if "fraction_of_peak" in r else "", peer, ratio,
                 r.get("date", "")))
head = ("bench", "case", "kinema", "of peak", "peer", "vs peer", "measured")
widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(len(head))]
for row in [head] + rows:
    print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
with open(sys.argv[3], "w") as md:
    md.write("# Benchmarks\n\n")
    md.write(f"Written {today} on {cpu} ({platform.machine()}) by `bench/run`; a partial run "
             "(`bench/run NAME...`) re-measures only its benches' rows, so the 'measured' column "
             "dates each row.\n")
    md.write("'of peak' divides by this machine's limits measured by `bench_peak` in the same run "
             "(FMA peak for GFLOP/s, memcpy bandwidth for GB/s).\n\n")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
    if os.path.exists(notes):  # the hand-kept reading of these numbers
        md.write(re.sub(r"<!--.*?-->", "", open(notes).read(), flags=re.S).strip() + "\n\n")
    md.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    for row in rows:
        md.write("| " + " | ".join(str(c) for c in row) + " |\n")
