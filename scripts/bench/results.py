#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""results.py - assemble, tabulate and chart the ntm benchmark results.

  results.py collect VALUES.tsv [ERRORS.txt [RUNS.tsv]]  JSON document on stdout
  results.py table RESULTS.json                          text table on stdout
  results.py chart RESULTS.json OUT.png                  bar charts (matplotlib)
  results.py scale RESULTS.json...                       the throughput of several
                                                         runs (vCPU counts) side by side

VALUES.tsv lines are SECTION<TAB>NAME<TAB>KEY<TAB>VALUE, RUNS.tsv lines
REP<TAB>PATH<TAB>KEY<TAB>VALUE (one number of one repetition), both written
by run.sh.  In the JSON document, throughput.PATH.KEY is the median over
the repetitions, throughput.PATH.stats.KEY its median, min, max and spread,
runs every repetition; ratios.NAME.KEY is the ratio of the two paths'
medians and ratios_spread.NAME.KEY the median, min and max of the same
ratio taken within each round.
"""
import sys

from benchlib import finish, main, num, pyplot, ratio, read_json, read_lines, save, summary

ORDER = ["veth", "ntm-chacha20-poly1305", "ntm-chacha20-poly1305-api", "wireguard",
         "ntm-aes-gcm", "xfrm"]
LABEL = {
    "veth": "veth (no tunnel)",
    "ntm-chacha20-poly1305": "ntm chacha20-poly1305",
    "ntm-chacha20-poly1305-api": "ntm chacha (crypto API)",
    "ntm-aes-gcm": "ntm aes-gcm",
    "wireguard": "WireGuard",
    "xfrm": "xfrm ESP-in-UDP aes-gcm",
}
SHORT = {"veth": "veth", "ntm-chacha20-poly1305": "ntm-chacha",
         "ntm-chacha20-poly1305-api": "ntm-chacha-api", "ntm-aes-gcm": "ntm-aesgcm",
         "wireguard": "wireguard", "xfrm": "xfrm"}
# (path, reference path, key): the same cipher on both sides of the first
# two; every path against no tunnel at all for the others
RATIOS = [
    ("ntm-chacha20-poly1305", "wireguard", "ntm_chacha20_poly1305_vs_wireguard"),
    ("ntm-aes-gcm", "xfrm", "ntm_aes_gcm_vs_xfrm"),
    ("ntm-chacha20-poly1305", "ntm-chacha20-poly1305-api", "ntm_chacha20_poly1305_lib_vs_api"),
    ("ntm-chacha20-poly1305", "veth", "ntm_chacha20_poly1305_vs_veth"),
    ("ntm-aes-gcm", "veth", "ntm_aes_gcm_vs_veth"),
    ("wireguard", "veth", "wireguard_vs_veth"),
    ("xfrm", "veth", "xfrm_vs_veth"),
]
METRICS = [
    ("tcp1_bps", "TCP 1 stream", "Mbit/s", 1e-6),
    ("tcp2_bps", "TCP 2 streams", "Mbit/s", 1e-6),
    ("udp64_rx_pps", "UDP 64 B rx", "kpps", 1e-3),
]
# per-repetition numbers that are summed up by their median only
OTHER = ["tcp_mss", "tcp1_retransmits", "cpu_sender_pct", "cpu_receiver_pct",
         "udp64_tx_pps", "udp64_lost_pct"]


def read_runs(path):
    """RUNS.tsv as {(rep, path): {key: value}}"""
    runs = {}
    for line in read_lines(path) if path else []:
        p = line.split("\t")
        if len(p) == 4:
            try:
                rep = int(p[0])
            except ValueError:
                continue
            runs.setdefault((rep, p[1]), {})[p[2]] = num(p[3]) if p[3] != "" else None
    return runs


def collect_clock(meta):
    """how long the throughput rounds took on the guest's clock and the host's"""
    g0, g1 = meta.get("clock_start_guest_s"), meta.get("clock_end_guest_s")
    h0, h1 = meta.get("clock_start_host_s"), meta.get("clock_end_host_s")
    out = {}
    if isinstance(g0, (int, float)) and isinstance(g1, (int, float)):
        out["guest_seconds"] = round(g1 - g0, 1)
    if isinstance(h0, (int, float)) and isinstance(h1, (int, float)):
        out["host_seconds"] = round(h1 - h0, 1)
        if out.get("guest_seconds") and out["host_seconds"] > 0:
            out["guest_over_host"] = round(out["guest_seconds"] / out["host_seconds"], 3)
    return out


def collect(values, errors=None, runs_tsv=None):
    doc = {"meta": {}, "throughput": {}, "ratios": {}, "ratios_spread": {}, "memory": {},
           "runs": [], "errors": []}
    for line in read_lines(values):
        parts = line.split("\t")
        if len(parts) != 4:
            continue
        sec, name, key, val = parts
        if sec == "meta":
            doc["meta"][key] = num(val)
        else:
            doc.setdefault(sec, {}).setdefault(name, {})[key] = num(val)
    doc["clock_seconds"] = collect_clock(doc["meta"])
    runs = read_runs(runs_tsv)
    doc["runs"] = [dict(rep=r, path=p, **v) for (r, p), v in sorted(runs.items())]
    tp = doc["throughput"]
    reps = sorted({r for r, _ in runs})
    for path in sorted({p for _, p in runs}):
        rows = [runs[(r, path)] for r in reps if (r, path) in runs]
        t = tp.setdefault(path, {})
        t["stats"] = {}
        for key, _, _, _ in METRICS:
            s = t["stats"][key] = summary([x.get(key) for x in rows], 0)
            if s["n"]:
                t[key] = s["median"]
        for key in OTHER:
            s = summary([x.get(key) for x in rows], 2)
            if s["n"]:
                t[key] = s["median"]
    for a, b, name in RATIOS:
        if a not in tp or b not in tp:
            continue
        r, sp = {}, {}
        for m, _, _, _ in METRICS:
            v = ratio(tp[a].get(m), tp[b].get(m))
            if v is not None:
                r[m] = v
            # the same ratio within each round: how far to trust the one above
            per = summary([ratio(runs.get((rep, a), {}).get(m), runs.get((rep, b), {}).get(m))
                           for rep in reps], 3)
            if per["n"]:
                sp[m] = per
        doc["ratios"][name] = r
        doc["ratios_spread"][name] = sp
    mem = doc["memory"]
    if "ntm" in mem and "wireguard" in mem:
        x = mem["ntm"].get("bytes_per_object")
        y = mem["wireguard"].get("bytes_per_object")
        if isinstance(x, int) and isinstance(y, int) and y > 0:
            doc["ratios"]["ntm_tunnel_vs_wireguard_peer_memory"] = round(x / y, 3)
    if errors:
        doc["errors"] = read_lines(errors, strip=True)
    return doc


def fnum(v, scale, spec="%.1f"):
    return spec % (v * scale) if isinstance(v, (int, float)) else "-"


def medrange(s, scale, spec="%.1f"):
    """'median (min-max)' of a summary, scaled"""
    if not s or not s.get("n"):
        return "-"
    if s["n"] == 1:
        return fnum(s["median"], scale, spec)
    return "%s (%s-%s)" % (fnum(s["median"], scale, spec), fnum(s["min"], scale, spec),
                           fnum(s["max"], scale, spec))


def header(doc):
    m = doc.get("meta", {})
    return ["ntm benchmark  kernel %s  %s vCPUs  clock: %s  %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("clock", "host (not recorded)"),
        m.get("virt", m.get("accel", ""))),
        "iperf3 %ss per run, %s rounds, paths interleaved (rotated order), inner MTU %s;"
        " median (min-max) over the rounds" % (
            m.get("iperf_seconds", "?"), m.get("repetitions", 1), m.get("inner_mtu", "?"))]


def stats_of(r, key):
    """the summary of a path's metric (a single value for results without repetitions)"""
    s = r.get("stats", {}).get(key)
    if s is None and isinstance(r.get(key), (int, float)):
        s = {"n": 1, "median": r[key], "min": r[key], "max": r[key]}
    return s


def table(doc):
    out = header(doc)
    out.append("")
    tp = doc.get("throughput", {})
    hdr = "%-24s %22s %22s %22s %5s %5s" % ("path", "TCP x1", "TCP x2", "UDP64 rx", "MTU", "MSS")
    out.append(hdr)
    out.append("%-24s %22s %22s %22s" % ("", "Mbit/s", "Mbit/s", "kpps"))
    out.append("-" * len(hdr))
    for name in ORDER + sorted(set(tp) - set(ORDER)):
        if name not in tp:
            continue
        r = tp[name]
        out.append("%-24s %22s %22s %22s %5s %5s" % (
            LABEL.get(name, name), medrange(stats_of(r, "tcp1_bps"), 1e-6),
            medrange(stats_of(r, "tcp2_bps"), 1e-6), medrange(stats_of(r, "udp64_rx_pps"), 1e-3),
            r.get("mtu", "-"), fnum(r.get("tcp_mss"), 1, "%.0f")))
    rat = doc.get("ratios", {})
    spr = doc.get("ratios_spread", {})
    if any(name in rat for _, _, name in RATIOS):
        out.append("")
        out.append("ratios of the medians (path / reference; >1: the path is faster),"
                   " [min-max of the per-round ratios]")
        for a, b, name in RATIOS:
            if name not in rat:
                continue
            cells = []
            for (m, _, _, _), title in zip(METRICS, ("TCP x1", "TCP x2", "UDP64")):
                v = rat[name].get(m)
                s = spr.get(name, {}).get(m, {})
                rng = " [%s-%s]" % (fnum(s.get("min"), 1, "%.3f"), fnum(s.get("max"), 1, "%.3f")) \
                    if s.get("n", 0) > 1 else ""
                cells.append("%s %s%s" % (title, fnum(v, 1, "%.3f"), rng))
            out.append("  %-22s %s" % ("%s/%s" % (SHORT.get(a, a), SHORT.get(b, b)), "  ".join(cells)))
    c = doc.get("clock_seconds", {})
    if c:
        out.append("")
        out.append("throughput rounds took %s s on the guest's clock, %s s on the host's" % (
            c.get("guest_seconds", "-"), c.get("host_seconds", "-")))
    mem = doc.get("memory", {})
    if mem:
        out.append("")
        out.append("%-26s %10s %14s %14s %10s %10s" % (
            "kernel memory", "objects", "B/object", "MemFree B/obj", "add s", "remove s"))
        for name, label in (("ntm", "ntm tunnel (ChaCha)"), ("ntm_after_flush", "ntm left after flush"),
                            ("ntm_aes", "ntm tunnel (AES-GCM)"),
                            ("ntm_chacha_api", "ntm tunnel (ChaCha, API)"),
                            ("wireguard", "WireGuard peer"), ("xfrm", "xfrm SA")):
            if name in mem:
                r = mem[name]
                out.append("%-26s %10s %14s %14s %10s %10s" % (
                    label, r.get("count", "-"), r.get("bytes_per_object", "-"),
                    r.get("memfree_bytes_per_object", "-"), r.get("add_seconds", "-"),
                    r.get("del_seconds", "-")))
        if "ntm" in mem:
            r = mem["ntm"]
            out.append("  ntm: dump of %s tunnels: JSON %s s, text %s s; flush %s s" % (
                r.get("dump_count", "-"), r.get("dump_seconds", "-"), r.get("dump_text_seconds", "-"),
                r.get("flush_seconds", "-")))
        if "ntm_tunnel_vs_wireguard_peer_memory" in rat:
            out.append("  ntm tunnel / WireGuard peer memory: %s" %
                       rat["ntm_tunnel_vs_wireguard_peer_memory"])
    return finish(out, doc.get("errors", []))


def scale_table(docs):
    """the throughput of several runs (one per vCPU count) side by side"""
    out = ["ntm benchmark, scaling: the same paths with %s vCPUs" %
           ", ".join(str(d.get("meta", {}).get("cpus", "?")) for d in docs)]
    for d in docs:
        m = d.get("meta", {})
        c = d.get("clock_seconds", {})
        out.append("  %s vCPUs: clock %s, iperf3 %ss x %s rounds, %s s on the host" % (
            m.get("cpus", "?"), m.get("clock", "?"), m.get("iperf_seconds", "?"),
            m.get("repetitions", 1), c.get("host_seconds", "-")))
    out.append("median (min-max) over the rounds")
    w = 22
    for key, title, unit, sc in METRICS:
        out.append("")
        hdr = "%-24s" % ("%s, %s" % (title, unit)) + "".join(
            " %*s" % (w, "%s vCPU" % d.get("meta", {}).get("cpus", "?")) for d in docs)
        out.append(hdr)
        out.append("-" * len(hdr))
        names = [n for n in ORDER if any(n in d.get("throughput", {}) for d in docs)]
        for n in names:
            out.append("%-24s" % LABEL.get(n, n) + "".join(
                " %*s" % (w, medrange(stats_of(d.get("throughput", {}).get(n, {}), key), sc))
                for d in docs))
        for a, b, name in RATIOS[:2]:
            out.append("%-24s" % ("  %s/%s" % (SHORT[a], SHORT[b])) + "".join(
                " %*s" % (w, fnum(d.get("ratios", {}).get(name, {}).get(key), 1, "%.3f")) for d in docs))
    errs = ["%s vCPUs: %s" % (d.get("meta", {}).get("cpus", "?"), e) for d in docs for e in d.get("errors", [])]
    return finish(out, errs)


def chart(doc, png):
    plt = pyplot()
    tp = doc.get("throughput", {})
    names = [n for n in ORDER if n in tp]
    colors = {"veth": "#999999", "ntm-chacha20-poly1305": "#1f77b4",
              "ntm-chacha20-poly1305-api": "#9467bd", "wireguard": "#aec7e8",
              "ntm-aes-gcm": "#d62728", "xfrm": "#ff9896"}
    mem = doc.get("memory", {})
    memrows = [(n, l) for n, l in (("ntm", "ntm tunnel\n(ChaCha)"),
                                   ("ntm_aes", "ntm tunnel\n(AES-GCM)"),
                                   ("wireguard", "WireGuard peer"),
                                   ("xfrm", "xfrm SA")) if n in mem]
    ncols = len(METRICS) + (1 if memrows else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 4.8))
    if ncols == 1:
        axes = [axes]
    for ax, (key, title, unit, scale) in zip(axes, METRICS):
        st = [stats_of(tp[n], key) or {"n": 0} for n in names]
        med = [s["median"] * scale if s.get("n") else 0 for s in st]
        lo = [(s["median"] - s["min"]) * scale if s.get("n") else 0 for s in st]
        hi = [(s["max"] - s["median"]) * scale if s.get("n") else 0 for s in st]
        bars = ax.bar(range(len(names)), med, yerr=[lo, hi], capsize=4, ecolor="#333333",
                      color=[colors.get(n, "#777777") for n in names])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([LABEL.get(n, n) for n in names], rotation=35, ha="right", fontsize=8)
        ax.set_title(title + "\n(median, min-max)", fontsize=10)
        ax.set_ylabel(unit)
        for b, v, h in zip(bars, med, hi):
            ax.annotate("%.0f" % v if v >= 10 else "%.1f" % v, (b.get_x() + b.get_width() / 2, v + h),
                        ha="center", va="bottom", fontsize=8)
    if memrows:
        ax = axes[-1]
        vals = [mem[n].get("bytes_per_object", 0) or 0 for n, _ in memrows]
        bars = ax.bar(range(len(memrows)), vals, color=["#1f77b4", "#aec7e8", "#ff9896"][:len(memrows)])
        ax.set_xticks(range(len(memrows)))
        ax.set_xticklabels(["%s\n(n=%s)" % (l, mem[n].get("count", "?")) for n, l in memrows], fontsize=8)
        ax.set_title("Kernel memory per object")
        ax.set_ylabel("bytes")
        for b, v in zip(bars, vals):
            ax.annotate(str(v), (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    m = doc.get("meta", {})
    save(fig, png, "ntm vs WireGuard vs xfrm, kernel %s, %s vCPUs, clock %s, %s rounds" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("clock", "host"), m.get("repetitions", 1)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["scale"] and len(sys.argv) >= 3:
        ds = [read_json(p) for p in sys.argv[2:]]
        if any(d is None for d in ds):
            print("results.py scale: not a results document: %s" %
                  " ".join(p for p, d in zip(sys.argv[2:], ds) if d is None), file=sys.stderr)
            sys.exit(1)
        sys.stdout.write(scale_table(ds))
        sys.exit(0)
    sys.exit(main(sys.argv, __doc__, collect, table, chart, collect_args=3))
