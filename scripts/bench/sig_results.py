#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""sig_results.py - assemble, tabulate and chart the signalling benchmark.

  sig_results.py collect RESDIR              JSON document on stdout
  sig_results.py table RESULTS.json          text table on stdout
  sig_results.py chart RESULTS.json OUT.png  bar charts (matplotlib)

RESDIR is what scripts/bench/sig.sh writes: meta.tsv (KEY<TAB>VALUE),
per capacity run cap-I.tsv (KEY<TAB>VALUE), cap-I.json (ntm-sigbench
register --json) and cap-I.seed.json (ntm-sigbench seed --json), dns.tsv
(one lookup per line: case, from, peer, phase, kdig ms, wall ms, rcode,
answer ok, tunnel), errors.txt.
"""
import json
import os
import statistics
import sys

from benchlib import (finish, fmt, indexes, label_bars, main, num, pyplot, ratio, read_json, read_lines,
                      read_tsv, rule, save)

CASES = [
    ("cn_nat_opens", "CN behind NAT opens (A -> b*)"),
    ("both_public", "both public, CN opens (A -> c*)"),
    ("mn_nat_opens", "MN behind NAT opens (b -> c*)"),
]


def capacity_run(resdir, idx):
    t = read_tsv(os.path.join(resdir, "cap-%d.tsv" % idx))
    bench = read_json(os.path.join(resdir, "cap-%d.json" % idx)) or {}
    seed = read_json(os.path.join(resdir, "cap-%d.seed.json" % idx)) or {}
    n = t.get("nodes", bench.get("nodes"))
    r = {"nodes": n, "window": t.get("window", bench.get("window")), "sockets": bench.get("sockets"),
         "seed_seconds": seed.get("seconds"), "keys_load_seconds": bench.get("keys_load_seconds")}
    passes = bench.get("passes", {})
    for name in ("registration", "keepalive"):
        p = passes.get(name)
        if p:
            r[name] = {k: p.get(k) for k in ("ok", "failed", "timeouts", "failures", "seconds", "per_second",
                                              "retransmissions", "latency_ms")}
    # the baseline: ntm-sigbench's reading just before the first request,
    # else the script's two seconds after the DC was ready
    rss0 = bench.get("dc_rss_bytes_start") or t.get("dc_rss_start")
    r["dc_rss_start_bytes"] = rss0
    rreg = passes.get("registration", {}).get("dc_rss_bytes_after")
    rka = passes.get("keepalive", {}).get("dc_rss_bytes_after")
    r["dc_rss_after_registration_bytes"] = rreg
    r["dc_rss_after_keepalive_bytes"] = rka
    if isinstance(rss0, int) and isinstance(rreg, int):
        r["rss_bytes_per_node"] = ratio(rreg - rss0, n, 1)
    if isinstance(rss0, int) and isinstance(rka, int):
        r["rss_bytes_per_node_after_keepalive"] = ratio(rka - rss0, n, 1)
    r["db_bytes_keys_only"] = t.get("db_bytes_keys")
    r["db_bytes_running"] = t.get("db_bytes_running")
    r["db_bytes"] = t.get("db_bytes_closed")
    r["db_bytes_per_node"] = ratio(t.get("db_bytes_closed"), n, 1)
    r["dc_cpu_seconds"] = t.get("dc_cpu_seconds")
    sent = sum((passes.get(p, {}).get("ok") or 0) + (passes.get(p, {}).get("failed") or 0) +
               (passes.get(p, {}).get("retransmissions") or 0) for p in passes)
    r["dc_cpu_us_per_datagram"] = ratio(t.get("dc_cpu_seconds"), sent, 1, 1e6)
    r["udp_rcvbuf_errors"] = t.get("udp_rcvbuf_errors")
    r["wall_seconds"] = t.get("wall_seconds")
    r["dc_online"] = t.get("dc_online")
    r["dc_registrations"] = t.get("dc_registrations")
    drops = t.get("dc_drops")
    try:
        r["dc_drops"] = json.loads(drops) if isinstance(drops, str) else drops
    except ValueError:
        r["dc_drops"] = drops
    r["client_drops"] = bench.get("client_drops")
    r["notices"] = bench.get("notices")
    return r


def summary(values):
    v = [x for x in values if isinstance(x, (int, float))]
    if not v:
        return {"n": 0}
    return {"n": len(v), "median_ms": round(statistics.median(v), 1), "min_ms": round(min(v), 1),
            "max_ms": round(max(v), 1), "mean_ms": round(statistics.mean(v), 1)}


def collect(resdir):
    doc = {"meta": read_tsv(os.path.join(resdir, "meta.tsv")), "capacity": [],
           "dns": {"samples": [], "summary": {}}, "errors": []}
    doc["capacity"] = [capacity_run(resdir, i) for i in indexes(resdir, "cap")]
    try:
        with open(os.path.join(resdir, "dns.tsv"), encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) != 9:
                    continue
                doc["dns"]["samples"].append({
                    "case": p[0], "from": p[1], "peer": p[2], "phase": p[3],
                    "kdig_ms": num(p[4]) if p[4] else None, "wall_ms": num(p[5]), "rcode": p[6],
                    "answer_ok": p[7] == "1", "tunnel": p[8] == "1"})
    except OSError:
        pass
    for case, _ in CASES:
        s = [x for x in doc["dns"]["samples"] if x["case"] == case]
        if not s:
            continue
        doc["dns"]["summary"][case] = {
            phase: dict(summary([x["kdig_ms"] for x in s if x["phase"] == phase and x["answer_ok"]]),
                        failed=sum(1 for x in s if x["phase"] == phase and not x["answer_ok"]))
            for phase in ("first", "second")}
    doc["errors"] = read_lines(os.path.join(resdir, "errors.txt"), strip=True)
    return doc


def table(doc):
    out = []
    m = doc.get("meta", {})
    out.append("ntm signalling benchmark  kernel %s  %s CPUs  %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", "")))
    cap = doc.get("capacity", [])
    if cap:
        out.append("")
        out.append("DC capacity: ntm-sigbench -> DC over loopback, fresh registry per run")
        hdr = "%7s %6s | %8s %8s %8s %5s | %8s %8s %8s %5s | %9s %9s | %7s %7s %6s" % (
            "nodes", "window", "reg/s", "p50 ms", "p99 ms", "retx", "ka/s", "p50 ms", "p99 ms", "retx",
            "RSS B/nd", "DB B/nd", "DC cpu", "us/dgm", "rcvbuf")
        rule(out, hdr)
        for r in cap:
            reg = r.get("registration", {})
            ka = r.get("keepalive", {})
            out.append("%7s %6s | %8s %8s %8s %5s | %8s %8s %8s %5s | %9s %9s | %7s %7s %6s" % (
                r.get("nodes"), r.get("window"),
                fmt(reg.get("per_second"), "%.0f"), fmt(reg.get("latency_ms", {}).get("p50"), "%.1f"),
                fmt(reg.get("latency_ms", {}).get("p99"), "%.1f"), fmt(reg.get("retransmissions")),
                fmt(ka.get("per_second"), "%.0f"), fmt(ka.get("latency_ms", {}).get("p50"), "%.1f"),
                fmt(ka.get("latency_ms", {}).get("p99"), "%.1f"), fmt(ka.get("retransmissions")),
                fmt(r.get("rss_bytes_per_node"), "%.0f"), fmt(r.get("db_bytes_per_node"), "%.0f"),
                fmt(r.get("dc_cpu_seconds"), "%.1f"), fmt(r.get("dc_cpu_us_per_datagram"), "%.0f"),
                fmt(r.get("udp_rcvbuf_errors"))))
        for r in cap:
            fails = {}
            for p in ("registration", "keepalive"):
                if r.get(p, {}).get("failed"):
                    fails[p] = r[p].get("failures")
            if fails:
                out.append("  %s nodes / window %s failures: %s" % (r.get("nodes"), r.get("window"),
                                                                   json.dumps(fails)))
        out.append("  RSS B/nd: DC VmRSS growth over the registration pass / nodes; DB B/nd: registry "
                   "file (keys + nodes) / nodes;")
        out.append("  DC cpu: DC CPU seconds for both passes; us/dgm: per datagram received; rcvbuf: "
                   "UDP receive-buffer drops")
    summ = doc.get("dns", {}).get("summary", {})
    if summ:
        out.append("")
        out.append("DNS query -> answer at the node's DNS hook (kdig, ms)")
        hdr = "%-34s | %3s %8s %8s %8s | %3s %8s %8s" % (
            "case", "n", "first", "min", "max", "n", "second", "max")
        rule(out, hdr)
        for case, label in CASES:
            if case not in summ:
                continue
            f, s = summ[case].get("first", {}), summ[case].get("second", {})
            out.append("%-34s | %3s %8s %8s %8s | %3s %8s %8s" % (
                label, f.get("n", 0), fmt(f.get("median_ms")), fmt(f.get("min_ms")), fmt(f.get("max_ms")),
                s.get("n", 0), fmt(s.get("median_ms")), fmt(s.get("max_ms"))))
            nf = f.get("failed", 0) + s.get("failed", 0)
            if nf:
                out.append("  %s lookups without the right answer" % nf)
        out.append("  first: median of the first lookup of each peer (builds the tunnel); second: the "
                   "tunnel exists")
    return finish(out, doc.get("errors", []))


def chart(doc, png):
    plt = pyplot()
    cap = doc.get("capacity", [])
    summ = doc.get("dns", {}).get("summary", {})
    panels = (2 if cap else 0) + (1 if summ else 0)
    if panels == 0:
        raise SystemExit("nothing to chart")
    fig, axes = plt.subplots(1, panels, figsize=(4.8 * panels, 4.6))
    if panels == 1:
        axes = [axes]
    ai = 0
    if cap:
        ax = axes[ai]
        ai += 1
        labels = ["%s nodes\nwindow %s" % (r.get("nodes"), r.get("window")) for r in cap]
        x = range(len(cap))
        w = 0.38
        reg = [r.get("registration", {}).get("per_second") or 0 for r in cap]
        ka = [r.get("keepalive", {}).get("per_second") or 0 for r in cap]
        b1 = ax.bar([i - w / 2 for i in x], reg, w, label="registrations/s", color="#1f77b4")
        b2 = ax.bar([i + w / 2 for i in x], ka, w, label="keepalives/s", color="#aec7e8")
        label_bars(ax, b1, reg, "%.0f")
        label_bars(ax, b2, ka, "%.0f")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title("DC requests per second")
        ax.legend(fontsize=8)

        ax = axes[ai]
        ai += 1
        rss = [r.get("rss_bytes_per_node") or 0 for r in cap]
        db = [r.get("db_bytes_per_node") or 0 for r in cap]
        b1 = ax.bar([i - w / 2 for i in x], rss, w, label="DC VmRSS", color="#d62728")
        b2 = ax.bar([i + w / 2 for i in x], db, w, label="registry file", color="#ff9896")
        label_bars(ax, b1, rss, "%.0f")
        label_bars(ax, b2, db, "%.0f")
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title("Bytes per registered node")
        ax.legend(fontsize=8)
    if summ:
        ax = axes[ai]
        cases = [(c, l) for c, l in CASES if c in summ]
        x = range(len(cases))
        w = 0.38
        first = [summ[c].get("first", {}).get("median_ms") or 0 for c, _ in cases]
        second = [summ[c].get("second", {}).get("median_ms") or 0 for c, _ in cases]
        b1 = ax.bar([i - w / 2 for i in x], first, w, label="first lookup (tunnel set up)", color="#2ca02c")
        b2 = ax.bar([i + w / 2 for i in x], second, w, label="second lookup", color="#98df8a")
        label_bars(ax, b1, first, "%.0f")
        label_bars(ax, b2, second, "%.1f")
        ax.set_xticks(list(x))
        ax.set_xticklabels([l.replace(" (", "\n(") for _, l in cases], fontsize=7)
        ax.set_ylabel("ms (median)")
        ax.set_title("DNS query to answer")
        ax.legend(fontsize=8)
    m = doc.get("meta", {})
    save(fig, png, "ntm signalling, kernel %s, %s CPUs (%s)" % (m.get("kernel", "?"), m.get("cpus", "?"),
                                                                m.get("virt", "")))


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, collect, table, chart))
