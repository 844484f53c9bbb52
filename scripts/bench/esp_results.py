#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""esp_results.py - assemble, tabulate and chart the ESP-in-UDP benchmark.

  esp_results.py collect RESDIR              JSON document on stdout
  esp_results.py table RESULTS.json          text table on stdout
  esp_results.py chart RESULTS.json OUT.png  bar charts (matplotlib)

RESDIR is what scripts/bench/esp.sh writes: meta.tsv (KEY<TAB>VALUE),
values.tsv (CONFIG<TAB>KEY<TAB>VALUE) and errors.txt.
"""
import os
import sys

from benchlib import finish, label_bars, main, num, pyplot, ratio, read_lines, read_tsv, rule, save

CONFIGS = [("veth", "plain veth"), ("ntm", "ntm ESP-in-UDP"), ("xfrm", "xfrm ESP-in-UDP")]


def collect(resdir):
    doc = {"meta": read_tsv(os.path.join(resdir, "meta.tsv")), "throughput": {}, "ratios": {}, "errors": []}
    try:
        with open(os.path.join(resdir, "values.tsv"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    doc["throughput"].setdefault(parts[0], {})[parts[1]] = num(parts[2])
    except OSError:
        pass
    doc["errors"] = read_lines(os.path.join(resdir, "errors.txt"))
    tp = doc["throughput"]
    ntm, xfrm, veth = tp.get("ntm", {}), tp.get("xfrm", {}), tp.get("veth", {})
    for key in ("tcp_bps", "udp64_rx_pps"):
        doc["ratios"]["ntm_over_xfrm_" + key] = ratio(ntm.get(key), xfrm.get(key))
        doc["ratios"]["ntm_over_veth_" + key] = ratio(ntm.get(key), veth.get(key))
        doc["ratios"]["xfrm_over_veth_" + key] = ratio(xfrm.get(key), veth.get(key))
    return doc


# unlike benchlib.fmt, strings too (only None and "" are "-")
def fmt(v, f="%s"):
    if v is None or v == "":
        return "-"
    try:
        return f % v
    except TypeError:
        return str(v)


def table(doc):
    m = doc.get("meta", {})
    out = ["ntm ESP-in-UDP benchmark  kernel %s  %s CPUs  %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", "")),
        "cipher %s, inner MTU %s, iperf3 %s s per run" % (
            m.get("cipher", "?"), m.get("inner_mtu", "?"), m.get("iperf_seconds", "?")), ""]
    hdr = "%-18s | %12s %8s | %12s %8s" % ("config", "TCP Mbit/s", "retx", "UDP64 pps", "lost %")
    rule(out, hdr)
    tp = doc.get("throughput", {})
    for key, label in CONFIGS:
        r = tp.get(key)
        if not r:
            continue
        bps = r.get("tcp_bps")
        out.append("%-18s | %12s %8s | %12s %8s" % (
            label, fmt(bps / 1e6 if isinstance(bps, (int, float)) else None, "%.1f"),
            fmt(r.get("tcp_retransmits")), fmt(r.get("udp64_rx_pps")), fmt(r.get("udp64_lost_pct"))))
    rt = doc.get("ratios", {})
    out.append("")
    out.append("ntm/xfrm: TCP %s, UDP64 pps %s;  ntm/veth: TCP %s;  xfrm/veth: TCP %s" % (
        fmt(rt.get("ntm_over_xfrm_tcp_bps")), fmt(rt.get("ntm_over_xfrm_udp64_rx_pps")),
        fmt(rt.get("ntm_over_veth_tcp_bps")), fmt(rt.get("xfrm_over_veth_tcp_bps"))))
    return finish(out, doc.get("errors"))


def chart(doc, png):
    plt = pyplot()
    tp = doc.get("throughput", {})
    rows = [(label, tp[k]) for k, label in CONFIGS if k in tp]
    if not rows:
        raise SystemExit("nothing to chart")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    colors = ["#888888", "#2b7bba", "#d95f02"][:len(rows)]
    names = [r[0] for r in rows]
    tcp = [(r[1].get("tcp_bps") or 0) / 1e6 for r in rows]
    pps = [r[1].get("udp64_rx_pps") or 0 for r in rows]
    for ax, vals, title, unit in ((axes[0], tcp, "TCP, one stream", "Mbit/s"),
                                  (axes[1], pps, "UDP, 64-byte payload", "packets/s received")):
        bars = ax.bar(names, vals, color=colors)
        ax.set_title(title)
        ax.set_ylabel(unit)
        label_bars(ax, bars, vals, "%.0f", fontsize=9)
        ax.tick_params(axis="x", labelsize=9)
    m = doc.get("meta", {})
    rt = doc.get("ratios", {})
    save(fig, png, "ESP-in-UDP, AES-GCM-256: ntm/xfrm TCP %s, pps %s  (%s, %s CPUs)" % (
        fmt(rt.get("ntm_over_xfrm_tcp_bps")), fmt(rt.get("ntm_over_xfrm_udp64_rx_pps")),
        m.get("virt", ""), m.get("cpus", "?")))


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, collect, table, chart, indent=1, exact=True))
