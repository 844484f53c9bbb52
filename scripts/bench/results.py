#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""results.py - assemble, tabulate and chart the ntm benchmark results.

  results.py collect VALUES.tsv [ERRORS.txt]  JSON document on stdout
  results.py table RESULTS.json               text table on stdout
  results.py chart RESULTS.json OUT.png       bar charts (matplotlib)

VALUES.tsv lines are SECTION<TAB>NAME<TAB>KEY<TAB>VALUE, written by run.sh.
"""
import sys

from benchlib import finish, label_bars, main, num, pyplot, ratio, read_lines, save

ORDER = ["veth", "ntm-chacha20-poly1305", "wireguard", "ntm-aes-gcm", "xfrm"]
LABEL = {
    "veth": "veth (no tunnel)",
    "ntm-chacha20-poly1305": "ntm chacha20-poly1305",
    "ntm-aes-gcm": "ntm aes-gcm",
    "wireguard": "WireGuard",
    "xfrm": "xfrm ESP-in-UDP aes-gcm",
}
# (ntm row, reference row): the same cipher on both sides of each ratio
RATIOS = [
    ("ntm-chacha20-poly1305", "wireguard", "ntm_chacha20_poly1305_vs_wireguard"),
    ("ntm-aes-gcm", "xfrm", "ntm_aes_gcm_vs_xfrm"),
]
METRICS = [
    ("tcp1_bps", "TCP 1 stream", "Mbit/s", 1e-6),
    ("tcp2_bps", "TCP 2 streams", "Mbit/s", 1e-6),
    ("udp64_rx_pps", "UDP 64 B rx", "kpps", 1e-3),
]


def collect(values, errors=None):
    doc = {"meta": {}, "throughput": {}, "ratios": {}, "memory": {}, "errors": []}
    with open(values, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            sec, name, key, val = parts
            if sec == "meta":
                doc["meta"][key] = num(val)
            else:
                doc.setdefault(sec, {}).setdefault(name, {})[key] = num(val)
    tp = doc["throughput"]
    for a, b, name in RATIOS:
        if a in tp and b in tp:
            r = {}
            for m, _, _, _ in METRICS:
                v = ratio(tp[a].get(m), tp[b].get(m))
                if v is not None:
                    r[m] = v
            doc["ratios"][name] = r
    mem = doc["memory"]
    if "ntm" in mem and "wireguard" in mem:
        x = mem["ntm"].get("bytes_per_object")
        y = mem["wireguard"].get("bytes_per_object")
        if isinstance(x, int) and isinstance(y, int) and y > 0:
            doc["ratios"]["ntm_tunnel_vs_wireguard_peer_memory"] = round(x / y, 3)
    if errors:
        doc["errors"] = read_lines(errors, strip=True)
    return doc


def table(doc):
    out = []
    m = doc.get("meta", {})
    out.append("ntm benchmark  kernel %s  %s CPUs  %s  iperf3 %ss per run  inner MTU %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", m.get("accel", "")),
        m.get("iperf_seconds", "?"), m.get("inner_mtu", "?")))
    out.append("")
    tp = doc.get("throughput", {})
    hdr = "%-26s %12s %12s %12s %6s %6s" % ("path", "TCP x1", "TCP x2", "UDP64 rx", "MTU", "MSS")
    out.append(hdr)
    out.append("%-26s %12s %12s %12s" % ("", "Mbit/s", "Mbit/s", "kpps"))
    out.append("-" * len(hdr))
    for name in ORDER + sorted(set(tp) - set(ORDER)):
        if name not in tp:
            continue
        r = tp[name]

        def f(key, scale):
            v = r.get(key)
            return "%.1f" % (v * scale) if isinstance(v, (int, float)) else "-"
        out.append("%-26s %12s %12s %12s %6s %6s" % (
            LABEL.get(name, name), f("tcp1_bps", 1e-6), f("tcp2_bps", 1e-6),
            f("udp64_rx_pps", 1e-3), r.get("mtu", "-"), r.get("tcp_mss", "-")))
    rat = doc.get("ratios", {})
    if rat:
        out.append("")
        out.append("ratios (ntm / reference, same cipher; >1 means ntm is faster)")
        for a, b, name in RATIOS:
            if name in rat:
                r = rat[name]
                out.append("  %-36s TCP x1 %s  TCP x2 %s  UDP64 %s" % (
                    "%s / %s" % (LABEL[a], LABEL[b]), r.get("tcp1_bps", "-"),
                    r.get("tcp2_bps", "-"), r.get("udp64_rx_pps", "-")))
    mem = doc.get("memory", {})
    if mem:
        out.append("")
        out.append("%-26s %10s %14s %14s %10s %10s" % (
            "kernel memory", "objects", "B/object", "MemFree B/obj", "add s", "remove s"))
        for name, label in (("ntm", "ntm tunnel"), ("ntm_after_flush", "ntm left after flush"),
                            ("wireguard", "WireGuard peer"), ("xfrm", "xfrm SA")):
            if name in mem:
                r = mem[name]
                out.append("%-26s %10s %14s %14s %10s %10s" % (
                    label, r.get("count", "-"), r.get("bytes_per_object", "-"),
                    r.get("memfree_bytes_per_object", "-"), r.get("add_seconds", "-"),
                    r.get("del_seconds", "-")))
        if "ntm" in mem:
            r = mem["ntm"]
            out.append("  ntm: dump of %s tunnels %s s, flush %s s" % (
                r.get("dump_count", "-"), r.get("dump_seconds", "-"), r.get("flush_seconds", "-")))
        if "ntm_tunnel_vs_wireguard_peer_memory" in rat:
            out.append("  ntm tunnel / WireGuard peer memory: %s" %
                       rat["ntm_tunnel_vs_wireguard_peer_memory"])
    return finish(out, doc.get("errors", []))


def chart(doc, png):
    plt = pyplot()
    tp = doc.get("throughput", {})
    names = [n for n in ORDER if n in tp]
    colors = {"veth": "#999999", "ntm-chacha20-poly1305": "#1f77b4", "wireguard": "#aec7e8",
              "ntm-aes-gcm": "#d62728", "xfrm": "#ff9896"}
    mem = doc.get("memory", {})
    memrows = [(n, l) for n, l in (("ntm", "ntm tunnel"), ("wireguard", "WireGuard peer"),
                                   ("xfrm", "xfrm SA")) if n in mem]
    ncols = len(METRICS) + (1 if memrows else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 4.6))
    if ncols == 1:
        axes = [axes]
    for ax, (key, title, unit, scale) in zip(axes, METRICS):
        vals = [tp[n].get(key, 0) or 0 for n in names]
        vals = [v * scale if isinstance(v, (int, float)) else 0 for v in vals]
        bars = ax.bar(range(len(names)), vals, color=[colors.get(n, "#777777") for n in names])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([LABEL.get(n, n) for n in names], rotation=35, ha="right", fontsize=8)
        ax.set_title(title)
        ax.set_ylabel(unit)
        label_bars(ax, bars, vals, lambda v: "%.0f" % v if v >= 10 else "%.1f" % v)
    if memrows:
        ax = axes[-1]
        vals = [mem[n].get("bytes_per_object", 0) or 0 for n, _ in memrows]
        bars = ax.bar(range(len(memrows)), vals, color=["#1f77b4", "#aec7e8", "#ff9896"][:len(memrows)])
        ax.set_xticks(range(len(memrows)))
        ax.set_xticklabels(["%s\n(n=%s)" % (l, mem[n].get("count", "?")) for n, l in memrows], fontsize=8)
        ax.set_title("Kernel memory per object")
        ax.set_ylabel("bytes")
        label_bars(ax, bars, vals, str)
    m = doc.get("meta", {})
    save(fig, png, "ntm vs WireGuard vs xfrm, kernel %s, %s CPUs (%s)" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", m.get("accel", ""))))


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, collect, table, chart, collect_args=2))
