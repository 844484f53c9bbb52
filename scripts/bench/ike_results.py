#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ike_results.py - assemble, tabulate and chart the IKEv2 handshake benchmark.

  ike_results.py collect RESDIR              JSON document on stdout
  ike_results.py table RESULTS.json          text table on stdout
  ike_results.py chart RESULTS.json OUT.png  bar charts (matplotlib)

RESDIR is what scripts/bench/ike.sh writes: meta.tsv (KEY<TAB>VALUE), per
run run-I.tsv (KEY<TAB>VALUE: responder, concurrency, CPU, VmRSS, held_*)
and run-I.json (ntm-ikebench -j), ntmd-warnings.txt, errors.txt.
"""
import json
import os
import sys

from benchlib import finish, fmt, indexes, label_bars, main, pyplot, ratio, read_json, read_lines, read_tsv, rule, save

RESPONDERS = [("ntmd", "ntmd + ntm.ko"), ("charon", "charon + xfrm")]


def run(resdir, idx):
    t = read_tsv(os.path.join(resdir, "run-%d.tsv" % idx))
    g = read_json(os.path.join(resdir, "run-%d.json" % idx)) or {}
    r = {"responder": t.get("responder"), "concurrency": t.get("concurrency")}
    for k in ("handshakes", "per_second", "seconds", "started", "failed", "lost", "unfinished", "failures",
              "cookies", "invalid_ke", "retransmissions", "deletes_ok", "deletes_lost", "latency_ms",
              "datagrams_sent", "datagrams_received", "dropped", "send_errors"):
        r[k] = g.get(k)
    r["generator_cpu_seconds"] = g.get("cpu_seconds")
    r["wall_seconds"] = t.get("wall_seconds")
    gs, gw = g.get("cpu_seconds"), g.get("duration")
    if isinstance(gs, (int, float)) and isinstance(gw, (int, float)) and gw > 0:
        r["generator_cpu_percent"] = round(100.0 * gs / gw, 1)
    cpu = t.get("responder_cpu_seconds")
    r["responder_cpu_seconds"] = cpu
    wall = t.get("wall_seconds")
    if isinstance(cpu, (int, float)) and isinstance(wall, (int, float)) and wall > 0:
        r["responder_cpu_percent"] = round(100.0 * cpu / wall, 1)
    total = (g.get("handshakes_total") or 0)
    if isinstance(cpu, (int, float)) and total:
        r["responder_cpu_ms_per_handshake"] = round(1000.0 * cpu / total, 2)
    r["responder_rss_start"] = t.get("rss_start")
    r["responder_rss_end"] = t.get("rss_end")
    r["held_after"] = {k[5:]: v for k, v in t.items() if k.startswith("held_")}
    return r


def collect(resdir):
    doc = {"meta": read_tsv(os.path.join(resdir, "meta.tsv")), "runs": [], "ratios": [], "errors": [],
           "ntmd_warnings": read_lines(os.path.join(resdir, "ntmd-warnings.txt"), errors="replace")}
    doc["runs"] = [run(resdir, i) for i in indexes(resdir, "run")]
    by = {(r["responder"], r["concurrency"]): r for r in doc["runs"]}
    for (who, c), r in sorted(by.items(), key=lambda kv: str(kv[0])):
        if who != "ntmd" or ("charon", c) not in by:
            continue
        a, b = r.get("per_second"), by[("charon", c)].get("per_second")
        doc["ratios"].append({"concurrency": c, "ntmd_per_second": a, "charon_per_second": b,
                              "ntmd_over_charon": ratio(a, b, 2)})
    doc["errors"] = read_lines(os.path.join(resdir, "errors.txt"), errors="replace")
    return doc


def table(doc):
    out = []
    m = doc.get("meta", {})
    out.append("IKEv2 handshakes/s, ntm-ikebench -> responder  kernel %s  %s CPUs  %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", "")))
    out.append("%s, ESP %s, PSK, %s s per run (%s s warm-up), generator on CPU %s, responder on CPU %s; "
               "charon %s" % (m.get("proposal", "?"), m.get("esp_proposal", "?"), m.get("seconds", "?"),
                              m.get("warmup", "?"), m.get("cpu_generator", "?"), m.get("cpu_responder", "?"),
                              m.get("strongswan", "?")))
    out.append("")
    hdr = "%-15s %5s | %8s %7s %8s %8s | %6s %5s %5s | %5s %7s %6s %5s | %s" % (
        "responder", "conc", "hs/s", "hs", "p50 ms", "p99 ms", "failed", "lost", "retx", "cpu%", "ms/hs",
        "RSS+kB", "gen%", "held after (IKE SAs / half-open / kernel SAs)")
    rule(out, hdr)
    for r in doc.get("runs", []):
        lat = r.get("latency_ms") or {}
        h = r.get("held_after") or {}
        rs0, rs1 = r.get("responder_rss_start"), r.get("responder_rss_end")
        grow = (rs1 - rs0) / 1024 if isinstance(rs0, int) and isinstance(rs1, int) else None
        label = dict(RESPONDERS).get(r.get("responder"), r.get("responder"))
        out.append("%-15s %5s | %8s %7s %8s %8s | %6s %5s %5s | %5s %7s %6s %5s | %s / %s / %s" % (
            label, r.get("concurrency"), fmt(r.get("per_second"), "%.1f"), fmt(r.get("handshakes")),
            fmt(lat.get("p50"), "%.0f"), fmt(lat.get("p99"), "%.0f"), fmt(r.get("failed")), fmt(r.get("lost")),
            fmt(r.get("retransmissions")), fmt(r.get("responder_cpu_percent"), "%.0f"),
            fmt(r.get("responder_cpu_ms_per_handshake"), "%.1f"), fmt(grow, "%.0f"),
            fmt(r.get("generator_cpu_percent"), "%.0f"), h.get("ike_sas", "-"), h.get("half_open", "-"), h.get("kernel_sas", "-")))
    for r in doc.get("runs", []):
        if r.get("failures"):
            out.append("  %s / concurrency %s failures: %s" % (r.get("responder"), r.get("concurrency"),
                                                              json.dumps(r["failures"])))
    out.append("  hs/s: handshakes (IKE_SA_INIT + IKE_AUTH with a CHILD SA, AUTH verified) completed per second "
               "after the warm-up, each followed by a Delete;")
    out.append("  cpu%: responder CPU time / wall time (100 = its one core); ms/hs: responder CPU per handshake "
               "incl. the Delete; RSS+kB: VmRSS growth over the run;")
    out.append("  gen%: generator CPU time / load duration (near 100: the generator, not the responder, "
               "limits the rate)")
    rat = doc.get("ratios", [])
    if rat:
        out.append("")
        out.append("ntmd / charon: " + ", ".join("concurrency %s: %s (%s vs %s /s)" % (
            x["concurrency"], fmt(x["ntmd_over_charon"], "%.2f"), fmt(x["ntmd_per_second"], "%.1f"),
            fmt(x["charon_per_second"], "%.1f")) for x in rat))
    warn = doc.get("ntmd_warnings", [])
    if warn:
        out.append("")
        out.append("ntmd warnings (last %d):" % len(warn))
        out.extend("  " + w for w in warn)
    return finish(out, doc.get("errors", []))


def chart(doc, png):
    plt = pyplot()
    runs = doc.get("runs", [])
    if not runs:
        raise SystemExit("nothing to chart")
    concs = sorted({r["concurrency"] for r in runs if r.get("concurrency") is not None})
    by = {(r["responder"], r["concurrency"]): r for r in runs}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    w = 0.38
    colors = {"ntmd": "#1f77b4", "charon": "#ff7f0e"}
    for ax, key, title, spec in ((axes[0], "per_second", "handshakes per second", "%.1f"),
                                 (axes[1], "p50", "latency p50 (ms)", "%.0f")):
        for k, (who, label) in enumerate(RESPONDERS):
            vals = []
            for c in concs:
                r = by.get((who, c), {})
                v = r.get(key) if key == "per_second" else (r.get("latency_ms") or {}).get(key)
                vals.append(v or 0)
            xs = [i + (k - 0.5) * w for i in range(len(concs))]
            bars = ax.bar(xs, vals, w, label=label, color=colors[who])
            label_bars(ax, bars, vals, spec)
        ax.set_xticks(list(range(len(concs))))
        ax.set_xticklabels(["concurrency %s" % c for c in concs], fontsize=8)
        ax.set_title(title)
        ax.legend(fontsize=8)
    m = doc.get("meta", {})
    rat = ", ".join("%s at %s" % (fmt(x["ntmd_over_charon"], "%.2f"), x["concurrency"])
                    for x in doc.get("ratios", []))
    save(fig, png, "IKEv2 responder, %s PSK, kernel %s (%s); ntmd/charon %s" % (
        m.get("proposal", "?"), m.get("kernel", "?"), m.get("virt", ""), rat), fontsize=9)


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, collect, table, chart))
