#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""esp_results.py - assemble, tabulate and chart the ESP-in-UDP benchmark.

  esp_results.py collect RESDIR              JSON document on stdout
  esp_results.py table RESULTS.json          text table on stdout
  esp_results.py chart RESULTS.json OUT.png  bar charts (matplotlib)

RESDIR is what scripts/bench/esp.sh writes: meta.tsv (KEY<TAB>VALUE),
values.tsv (CONFIG<TAB>KEY<TAB>VALUE) and errors.txt.
"""
import json
import os
import sys

CONFIGS = [("veth", "plain veth"), ("ntm", "ntm ESP-in-UDP"), ("xfrm", "xfrm ESP-in-UDP")]


def num(v):
    for f in (int, float):
        try:
            return f(v)
        except ValueError:
            pass
    return v


def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
        return round(a / b, 3)
    return None


def collect(resdir):
    doc = {"meta": {}, "throughput": {}, "ratios": {}, "errors": []}
    try:
        with open(os.path.join(resdir, "meta.tsv"), encoding="utf-8") as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                doc["meta"][k] = num(v)
    except OSError:
        pass
    try:
        with open(os.path.join(resdir, "values.tsv"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    doc["throughput"].setdefault(parts[0], {})[parts[1]] = num(parts[2])
    except OSError:
        pass
    try:
        with open(os.path.join(resdir, "errors.txt"), encoding="utf-8") as f:
            doc["errors"] = [x.rstrip("\n") for x in f if x.strip()]
    except OSError:
        pass
    tp = doc["throughput"]
    ntm, xfrm, veth = tp.get("ntm", {}), tp.get("xfrm", {}), tp.get("veth", {})
    for key in ("tcp_bps", "udp64_rx_pps"):
        doc["ratios"]["ntm_over_xfrm_" + key] = ratio(ntm.get(key), xfrm.get(key))
        doc["ratios"]["ntm_over_veth_" + key] = ratio(ntm.get(key), veth.get(key))
        doc["ratios"]["xfrm_over_veth_" + key] = ratio(xfrm.get(key), veth.get(key))
    return doc


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
    out.append(hdr)
    out.append("-" * len(hdr))
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
    if doc.get("errors"):
        out.append("")
        out.append("errors:")
        out.extend("  " + e for e in doc["errors"])
    return "\n".join(out) + "\n"


def chart(doc, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
        for b, v in zip(bars, vals):
            ax.annotate("%.0f" % v, (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=9)
        ax.tick_params(axis="x", labelsize=9)
    m = doc.get("meta", {})
    rt = doc.get("ratios", {})
    fig.suptitle("ESP-in-UDP, AES-GCM-256: ntm/xfrm TCP %s, pps %s  (%s, %s CPUs)" % (
        fmt(rt.get("ntm_over_xfrm_tcp_bps")), fmt(rt.get("ntm_over_xfrm_udp64_rx_pps")),
        m.get("virt", ""), m.get("cpus", "?")), fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv):
    if len(argv) == 3 and argv[1] == "collect":
        json.dump(collect(argv[2]), sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    if len(argv) == 3 and argv[1] == "table":
        with open(argv[2], encoding="utf-8") as f:
            sys.stdout.write(table(json.load(f)))
        return 0
    if len(argv) == 4 and argv[1] == "chart":
        with open(argv[2], encoding="utf-8") as f:
            chart(json.load(f), argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
