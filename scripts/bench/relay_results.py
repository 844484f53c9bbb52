#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""relay_results.py - assemble, tabulate and chart the Relay Server benchmark.

  relay_results.py collect RESDIR              JSON document on stdout
  relay_results.py table RESULTS.json          text table on stdout
  relay_results.py chart RESULTS.json OUT.png  bar charts (matplotlib)

RESDIR is what scripts/bench/relay.sh writes: meta.tsv (KEY<TAB>VALUE),
forward.tsv (REP<TAB>PATH<TAB>KEY<TAB>VALUE), memory.tsv (KEY<TAB>VALUE),
dns.tsv (one lookup a line, columns below) and errors.txt.
"""
import os
import sys

from benchlib import (finish, label_bars, main, num, pyplot, ratio, read_lines, read_tsv, rule, save,
                      summary)

PATHS = [("direct", "direct tunnel A <-> B"), ("relay", "kernel relay (ntm.ko on RS)"),
         ("socat", "user-space relay (socat on RS)")]
METRICS = [("tcp_bps", 1e-6, "TCP Mbit/s"), ("udp64_rx_pps", 1, "UDP 64 B packets/s"),
           ("cap_rx_pps", 1, "forwarder, 64 B packets/s")]
DNS_COLS = ["case", "k", "from", "peer", "kdig_ms", "wall_ms", "rcode", "ok", "path_at_answer",
            "relay_to_direct_ms", "answer_to_direct_ms", "relay", "status_direct"]


def collect_forward(resdir):
    runs = {}
    try:
        with open(os.path.join(resdir, "forward.tsv"), encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 4:
                    runs.setdefault((int(p[0]), p[1]), {})[p[2]] = num(p[3]) if p[3] != "" else None
    except OSError:
        pass
    out = {"runs": [dict(rep=r, path=pa, **v) for (r, pa), v in sorted(runs.items())], "summary": {},
           "ratios": {}, "ratios_per_repetition": {}}
    for pa, _ in PATHS:
        rows = [v for (r, p), v in sorted(runs.items()) if p == pa]
        if not rows:
            continue
        s = out["summary"][pa] = {}
        for key, scale, _ in METRICS:
            s[key] = summary([x.get(key) * scale if isinstance(x.get(key), (int, float)) else None
                              for x in rows], 1 if scale != 1 else 0)
        s["tcp_retransmits"] = summary([x.get("tcp_retransmits") for x in rows], 0)
        s["udp64_tx_pps"] = summary([x.get("udp64_tx_pps") for x in rows], 0)
        s["relay_session_packets"] = summary([x.get("relay_session_packets") for x in rows], 0)
        s["cap_sent_pps"] = summary([x.get("cap_sent_pps") for x in rows], 0)
    sm = out["summary"]
    for a, b in (("relay", "socat"), ("relay", "direct"), ("socat", "direct")):
        for key, _, _ in METRICS:
            out["ratios"]["%s_over_%s_%s" % (a, b, key)] = ratio(
                sm.get(a, {}).get(key, {}).get("median"), sm.get(b, {}).get(key, {}).get("median"))
            # the same ratio within each repetition: how stable it is
            per = [ratio(runs.get((r, a), {}).get(key), runs.get((r, b), {}).get(key))
                   for r in sorted({r for r, _ in runs})]
            out["ratios_per_repetition"]["%s_over_%s_%s" % (a, b, key)] = summary(per, 3)
    return out


def collect_memory(resdir):
    m = read_tsv(os.path.join(resdir, "memory.tsv"))
    if not m:
        return {}
    n = m.get("sessions_reported") or m.get("sessions")
    out = {"raw": m, "sessions": n}

    def delta(key, a="before", b="after", sign=1):
        x, y = m.get("%s_%s" % (a, key)), m.get("%s_%s" % (b, key))
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            return sign * (y - x)
        return None

    def per(v):
        return round(v / n, 1) if isinstance(v, (int, float)) and isinstance(n, int) and n > 0 else None

    page = m.get("page_size") or 4096
    slabs = delta("cache_slabs")
    slab_bytes = slabs * page * (1 << (m.get("slab_order") or 0)) if isinstance(slabs, int) else None
    d = {
        "session_cache_bytes": slab_bytes,
        "session_cache_objects": delta("cache_objects"),
        "bucket_tables_vmalloc_bytes": delta("bucket_table_vmalloc_bytes"),
        "kmalloc_caches_bytes": delta("kmalloc_bytes"),
        "kernel_slab_percpu_vmalloc_bytes": delta("kernel_bytes"),
        "memfree_bytes": delta("memfree_bytes", sign=-1),
        "memavailable_bytes": delta("memavailable_bytes", sign=-1),
    }
    out["delta"] = d
    out["per_session"] = {k.replace("_bytes", ""): per(v) for k, v in d.items() if k != "session_cache_objects"}
    out["object_size"] = m.get("object_size")
    out["slab_size"] = m.get("slab_size")
    out["objs_per_slab"] = m.get("objs_per_slab")
    # after the flush, against the state before the add: what stays
    out["after_flush_kernel_bytes"] = delta("kernel_bytes", "before", "flushed")
    out["after_flush_memavailable_bytes"] = delta("memavailable_bytes", "before", "flushed", -1)
    out["add_ms"] = m.get("add_ms")
    out["flush_ms"] = m.get("flush_ms")
    out["add_per_second"] = round(n / (m["add_ms"] / 1000.0)) if isinstance(m.get("add_ms"), (int, float)) \
        and m["add_ms"] > 0 and isinstance(n, int) else None
    return out


def collect_dns(resdir):
    rows = []
    for line in read_lines(os.path.join(resdir, "dns.tsv")):
        p = line.split("\t")
        p += [""] * (len(DNS_COLS) - len(p))
        r = {k: (num(v) if v != "" else None) for k, v in zip(DNS_COLS, p)}
        rows.append(r)
    if not rows:
        return {}
    out = {"lookups": rows, "summary": {}}
    for c in ("relay", "direct"):
        rs = [r for r in rows if r["case"] == c]
        out["summary"][c] = {
            "answer_ms": summary([r["kdig_ms"] for r in rs if r["ok"] == 1]),
            "answered": sum(1 for r in rs if r["ok"] == 1), "lookups": len(rs),
            "path_at_answer": {p: sum(1 for r in rs if r["path_at_answer"] == p)
                               for p in sorted({str(r["path_at_answer"]) for r in rs})},
        }
        if c == "relay":
            out["summary"][c]["relay_to_direct_ms"] = summary([r["relay_to_direct_ms"] for r in rs])
            out["summary"][c]["answer_to_direct_ms"] = summary([r["answer_to_direct_ms"] for r in rs])
            out["summary"][c]["went_direct"] = sum(1 for r in rs if r["status_direct"] == 1)
            out["summary"][c]["tunnel_via_relay"] = sum(1 for r in rs if r["relay"])
    out["relay_over_direct_answer_ms"] = ratio(out["summary"]["relay"]["answer_ms"].get("median"),
                                               out["summary"]["direct"]["answer_ms"].get("median"))
    return out


def collect_clock(meta):
    """the guest's clock against the host's over the run (None without both marks)"""
    try:
        g = (meta["clock_end_guest_ns"] - meta["clock_start_guest_ns"]) / 1e9
        h = meta["clock_end_host_s"] - meta["clock_start_host_s"]
    except (KeyError, TypeError):
        return None
    return {"guest_seconds": round(g, 1), "host_seconds": round(h, 1),
            "guest_over_host": round(g / h, 3) if h > 0 else None}


def collect(resdir):
    meta = read_tsv(os.path.join(resdir, "meta.tsv"))
    doc = {"meta": meta, "clock": collect_clock(meta), "forward": collect_forward(resdir),
           "memory": collect_memory(resdir), "dns": collect_dns(resdir),
           "errors": read_lines(os.path.join(resdir, "errors.txt"))}
    c = doc["clock"]
    if c and c.get("guest_over_host") and abs(c["guest_over_host"] - 1) > 0.05:
        doc["errors"].append("the guest clock ran at %.2f x the host's (TSC calibration under load): "
                             "rates and times are off by that factor, ratios are not" % c["guest_over_host"])
    return doc


def fmt(v, spec="%s"):
    if v is None or v == "":
        return "-"
    try:
        return spec % v
    except TypeError:
        return str(v)


def med(s, spec="%.1f"):
    """'median (min-max)' of a summary"""
    if not s or not s.get("n"):
        return "-"
    return "%s (%s-%s)" % (fmt(s.get("median"), spec), fmt(s.get("min"), spec), fmt(s.get("max"), spec))


def table(doc):
    m = doc.get("meta", {})
    out = ["ntm Relay Server benchmark  kernel %s  %s CPUs  %s  %s" % (
        m.get("kernel", "?"), m.get("cpus", "?"), m.get("virt", ""), m.get("date", "")),
        "%s, inner MTU %s, iperf3 %s s per run, %s interleaved repetitions; median (min-max)" % (
            m.get("cipher", "?"), m.get("inner_mtu", "?"), m.get("iperf_seconds", "?"),
            m.get("repetitions", "?"))]
    c = doc.get("clock") or {}
    out.append("guest clock / host clock over the run: %s (%s s / %s s)" % (
        fmt(c.get("guest_over_host")), fmt(c.get("guest_seconds")), fmt(c.get("host_seconds"))))
    out.append("")
    fw = doc.get("forward", {})
    sm = fw.get("summary", {})
    if sm:
        hdr = "%-32s | %-22s | %-22s | %-22s | %s" % (
            "path", "tunnel TCP Mbit/s", "tunnel UDP 64 B pps", "forwarder 64 B pps", "(sent pps)")
        rule(out, hdr)
        for key, label in PATHS:
            s = sm.get(key)
            if not s:
                continue
            out.append("%-32s | %-22s | %-22s | %-22s | %s" % (
                label, med(s.get("tcp_bps")), med(s.get("udp64_rx_pps"), "%.0f"), med(s.get("cap_rx_pps"), "%.0f"),
                med(s.get("cap_sent_pps"), "%.0f")))
        out.append("spread (max-min)/median: " + "; ".join(
            "%s TCP %s%%, UDP %s%%, forwarder %s%%" % (k, fmt(sm[k].get("tcp_bps", {}).get("spread_pct")),
                                                   fmt(sm[k].get("udp64_rx_pps", {}).get("spread_pct")),
                                                   fmt(sm[k].get("cap_rx_pps", {}).get("spread_pct")))
            for k, _ in PATHS if k in sm))
        rt, rp = fw.get("ratios", {}), fw.get("ratios_per_repetition", {})
        out.append("")
        for a, b in (("relay", "socat"), ("relay", "direct"), ("socat", "direct")):
            out.append("%s/%s: TCP %s (per repetition %s), UDP 64 B %s (%s), forwarder %s (%s)" % (
                a, b, fmt(rt.get("%s_over_%s_tcp_bps" % (a, b))),
                med(rp.get("%s_over_%s_tcp_bps" % (a, b)), "%.2f"),
                fmt(rt.get("%s_over_%s_udp64_rx_pps" % (a, b))),
                med(rp.get("%s_over_%s_udp64_rx_pps" % (a, b)), "%.2f"),
                fmt(rt.get("%s_over_%s_cap_rx_pps" % (a, b))),
                med(rp.get("%s_over_%s_cap_rx_pps" % (a, b)), "%.2f")))
        out.append("")
    mem = doc.get("memory", {})
    if mem:
        ps = mem.get("per_session", {})
        out.append("Memory, %s relay sessions (added in %s ms = %s/s, pipelined NEW_RELAY; flush %s ms):" % (
            fmt(mem.get("sessions")), fmt(mem.get("add_ms"), "%.0f"), fmt(mem.get("add_per_second")),
            fmt(mem.get("flush_ms"), "%.0f")))
        hdr = "  %-44s | %12s | %10s" % ("measure", "delta bytes", "B/session")
        rule(out, hdr)
        for k, label in (("session_cache", "session cache (slabs x slab bytes)"),
                         ("bucket_tables_vmalloc", "rhashtable bucket arrays (vmallocinfo)"),
                         ("kmalloc_caches", "kmalloc caches (slabinfo)"),
                         ("kernel_slab_percpu_vmalloc", "Slab + Percpu + VmallocUsed"),
                         ("memfree", "MemFree"),
                         ("memavailable", "MemAvailable")):
            out.append("  %-44s | %12s | %10s" % (label, fmt(mem.get("delta", {}).get(k + "_bytes")),
                                                  fmt(ps.get(k))))
        out.append("  caches that grew most: %s" % mem.get("raw", {}).get("slab_growth", "-"))
        out.append("  object %s B, slab stride %s B, %s objects per slab; left after the flush: %s B "
                   "(kernel), %s B (MemAvailable)" % (
                       fmt(mem.get("object_size")), fmt(mem.get("slab_size")), fmt(mem.get("objs_per_slab")),
                       fmt(mem.get("after_flush_kernel_bytes")), fmt(mem.get("after_flush_memavailable_bytes"))))
        out.append("")
    dns = doc.get("dns", {})
    if dns:
        s = dns.get("summary", {})
        out.append("DNS query -> answer at the node's DNS hook (kdig ms), first lookup of each peer:")
        hdr = "  %-40s | %8s | %-26s | %s" % ("case", "answered", "answer ms", "path at the answer")
        rule(out, hdr)
        for c, label in (("relay", "B -> dK, both behind NATs (DC relays)"),
                         ("direct", "A (public) -> dK behind NAT (direct)")):
            x = s.get(c, {})
            out.append("  %-40s | %3s of %2s | %-26s | %s" % (
                label, fmt(x.get("answered")), fmt(x.get("lookups")), med(x.get("answer_ms")),
                ", ".join("%s %s" % kv for kv in x.get("path_at_answer", {}).items())))
        r = s.get("relay", {})
        out.append("  relay/direct answer time: %s" % fmt(dns.get("relay_over_direct_answer_ms")))
        out.append("")
        out.append("Relayed -> direct (B's ntmd log: tunnel up via the relay -> \"is direct now\"); "
                   "%s of %s tunnels came up via a relay, %s confirmed direct by ntmctl status:" % (
                       fmt(r.get("tunnel_via_relay")), fmt(r.get("lookups")), fmt(r.get("went_direct"))))
        out.append("  relayed -> direct: %s ms;  kdig exit -> direct: %s ms (< 0: direct before kdig returned)" % (
            med(r.get("relay_to_direct_ms")), med(r.get("answer_to_direct_ms"))))
        out.append("")
    out.append("run: forward %s s, memory %s s, dns %s s (testbed %s s), total %s s" % (
        fmt(m.get("forward_seconds")), fmt(m.get("memory_seconds")), fmt(m.get("dns_seconds")),
        fmt(m.get("dns_testbed_seconds")), fmt(m.get("total_seconds"))))
    return finish(out, doc.get("errors"))


def chart(doc, png):
    plt = pyplot()
    fw = doc.get("forward", {}).get("summary", {})
    mem = doc.get("memory", {})
    dns = doc.get("dns", {}).get("summary", {})
    if not (fw or mem or dns):
        raise SystemExit("nothing to chart")
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.4))
    rows = [(k, fw[k]) for k, _ in PATHS if k in fw]
    colors = {"direct": "#888888", "relay": "#2b7bba", "socat": "#d95f02"}
    titles = {"tcp_bps": "tunnel TCP, one stream", "udp64_rx_pps": "tunnel UDP, 64-byte payload",
              "cap_rx_pps": "forwarder alone, 64-byte datagrams"}
    for ax, (key, scale, unit) in zip(axes[:3], METRICS):
        names = [r[0] for r in rows]
        vals = [(r[1].get(key) or {}).get("median") or 0 for r in rows]
        lo = [v - ((r[1].get(key) or {}).get("min") or v) for v, r in zip(vals, rows)]
        hi = [((r[1].get(key) or {}).get("max") or v) - v for v, r in zip(vals, rows)]
        bars = ax.bar(names, vals, color=[colors[n] for n in names], yerr=[lo, hi], capsize=4)
        ax.set_title(titles[key] + "\n(median, min-max)", fontsize=10)
        ax.set_ylabel(unit)
        label_bars(ax, bars, vals, "%.0f", fontsize=9)
    ax = axes[3]
    ps = mem.get("per_session", {})
    parts = [("session cache", ps.get("session_cache")), ("bucket arrays", ps.get("bucket_tables_vmalloc")),
             ("Slab+Percpu+Vmalloc", ps.get("kernel_slab_percpu_vmalloc")), ("MemAvailable", ps.get("memavailable"))]
    parts = [(n, v) for n, v in parts if isinstance(v, (int, float))]
    if parts:
        bars = ax.bar([p[0] for p in parts], [p[1] for p in parts], color="#2b7bba")
        label_bars(ax, bars, [p[1] for p in parts], "%.0f", fontsize=9)
        ax.axhline(256, color="#d95f02", linestyle="--", linewidth=1)
        ax.annotate("256 B", (len(parts) - 0.5, 256), fontsize=8, color="#d95f02", va="bottom", ha="right")
        ax.tick_params(axis="x", labelsize=7, rotation=15)
    ax.set_title("kernel bytes per relay session (%s sessions)" % fmt(mem.get("sessions")))
    ax = axes[4]
    bars_v, names = [], []
    for label, s in (("DNS answer\nrelayed", dns.get("relay", {}).get("answer_ms")),
                     ("DNS answer\ndirect", dns.get("direct", {}).get("answer_ms")),
                     ("relayed ->\ndirect", dns.get("relay", {}).get("relay_to_direct_ms"))):
        if s and s.get("n"):
            names.append(label)
            bars_v.append(s)
    if bars_v:
        vals = [s["median"] for s in bars_v]
        bars = ax.bar(names, vals, color=["#2b7bba", "#888888", "#1b9e77"][:len(vals)],
                      yerr=[[v - s["min"] for v, s in zip(vals, bars_v)], [s["max"] - v for v, s in zip(vals, bars_v)]],
                      capsize=4)
        label_bars(ax, bars, vals, "%.0f", fontsize=9)
    ax.set_ylabel("ms (median, min-max)")
    ax.set_title("signalling through a relay")
    m = doc.get("meta", {})
    rt = doc.get("forward", {}).get("ratios", {})
    save(fig, png, "Relay Server: relay/socat forwarder %s, TCP %s, pps %s; relay/direct TCP %s, pps %s  (%s, %s CPUs, %s)" % (
        fmt(rt.get("relay_over_socat_cap_rx_pps")),
        fmt(rt.get("relay_over_socat_tcp_bps")), fmt(rt.get("relay_over_socat_udp64_rx_pps")),
        fmt(rt.get("relay_over_direct_tcp_bps")), fmt(rt.get("relay_over_direct_udp64_rx_pps")),
        m.get("virt", ""), m.get("cpus", "?"), str(m.get("date", ""))[:10]))


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, collect, table, chart, indent=1, exact=True))
