# SPDX-License-Identifier: GPL-2.0
"""handover_results.py - figures of scripts/bench/handover.sh.

    handover_results.py collect RESDIR         > handover-results.json
    handover_results.py table handover-results.json
    handover_results.py chart handover-results.json handover-results.png

collect reads the raw files of one run (moves.tsv: case, rep, from, to,
t_break_ns, t_up_ns; CASE-REP-ping-b.txt and -ping-peer.txt from ping -D;
CASE-REP-iperf.json; CASE-REP-tcp.json from handover_tcp.py;
CASE-REP-monitor-{b,peer}.txt; CASE-REP-logs.txt) and computes per move:

  address_change_ms - t_up - t_break: the ip -batch that moves B;
  handover_b_ms / handover_peer_ms - from t_up (B has its new address and
      route) to the receipt of the first echo reply whose request was sent
      after it, in B's ping to the peer and in the peer's ping to B (request
      time = reply time - rtt); handover_ms: the larger of the two;
  outage_b_ms / outage_peer_ms - the longest gap between two consecutive
      echo replies of that ping (includes the address change); outage_ms:
      the larger;
  ping_lost_b / ping_lost_peer - requests of that ping never answered;
  iperf_lost, iperf_stall_ms - iperf3 -R failed; the longest run of 0.1 s
      intervals in which B received nothing (multiples of the interval);
  tcp_lost, tcp_stall_ms - the long-lived connection was lost; the longest
      gap between two echoes (records every 20 ms);
  events - ms after t_break of the first daemon log lines / monitor events
      of interest since t_break, in ms after t_up (where the time goes).
"""
import datetime
import json
import os
import re
import sys

import benchlib

PING = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+).*time=([\d.]+) ms")
LOGTS = re.compile(r"^(\S+) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ntmd\[\d+\] \w+: (.*)$")
# daemon log lines worth timing: (label, daemon, regex)
LOG_EVENTS = [
    ("b_addr_change", "b", r"local addresses changed"),
    ("b_registered", "b", r"registered|logged in"),
    ("rs_leg_moved", "rs", r"b\.ntm\.test moved to"),
    ("peer_moved", "peer", r"b\.ntm\.test moved to"),
]
CASES = ["direct", "relayed"]


def ping_handover(path, t_up_ns):
    """(ms from t_up to the first reply to a request sent after t_up, the
    longest gap between two consecutive replies (ms), lost requests)"""
    first = None
    seqs = set()
    rxs = []
    tx = None
    for line in benchlib.read_lines(path):
        m = PING.match(line)
        if not m:
            m2 = re.search(r"(\d+) packets transmitted", line)
            if m2:
                tx = int(m2.group(1))
            continue
        rx = float(m.group(1))
        seq = int(m.group(2))
        rtt = float(m.group(3)) / 1000.0
        seqs.add(seq)
        rxs.append(rx)
        if first is None and (rx - rtt) * 1e9 >= t_up_ns:
            first = (rx * 1e9 - t_up_ns) / 1e6
    gap = max((b - a for a, b in zip(rxs, rxs[1:])), default=None)
    lost = (tx - len(seqs)) if tx is not None else None
    return (round(first, 1) if first is not None else None,
            round(gap * 1000.0, 1) if gap is not None else None, lost)


def iperf_figures(path):
    d = benchlib.read_json(path)
    if not isinstance(d, dict):
        return {"iperf_lost": 1, "iperf_error": "no JSON"}
    ivs = d.get("intervals") or []
    run = best = 0.0
    for iv in ivs:
        s = iv.get("sum", {})
        if s.get("bytes", 0) == 0:
            run += s.get("seconds", 0.0)
            best = max(best, run)
        else:
            run = 0.0
    err = d.get("error", "")
    end = d.get("end", {}).get("sum_received", {})
    return {"iperf_lost": 1 if err or not ivs else 0, "iperf_error": err,
            "iperf_stall_ms": round(best * 1000.0, 0),
            "iperf_bps": end.get("bits_per_second")}


def tcp_figures(path, t_break_ns):
    lines = benchlib.read_lines(path)
    try:
        d = json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"tcp_lost": 1, "tcp_error": "no result"}
    rx = d.get("rx_ns", [])
    gap = 0.0
    at = None
    for a, b in zip(rx, rx[1:]):
        if b - a > gap:
            gap, at = b - a, a
    return {"tcp_lost": 1 if d.get("lost") else 0, "tcp_error": d.get("error", ""),
            "tcp_stall_ms": round(gap / 1e6, 1),
            "tcp_stall_start_ms": round((at - t_break_ns) / 1e6, 1) if at is not None else None,
            "tcp_sent": d.get("sent"), "tcp_echoed": d.get("echoed")}


def log_ns(ts):
    """a daemon log time stamp (the guest's local time, UTC in the VM) as ns"""
    t = datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp() * 1000) * 1000000


def events(pre, t_break_ns, t_up_ns):
    """ms after t_up of the first lines of interest since t_break (< 0:
    during the address change)"""
    ev = {}
    for line in benchlib.read_lines(pre + "-logs.txt"):
        m = LOGTS.match(line)
        if not m:
            continue
        who, ts, msg = m.groups()
        role = "rs" if who.startswith("rs") else ("b" if who == "b" else "peer")
        try:
            ns = log_ns(ts)
        except ValueError:
            continue
        if ns < t_break_ns - 1e6:  # millisecond stamps
            continue
        for label, r, rx in LOG_EVENTS:
            if r == role and label not in ev and re.search(rx, msg):
                ev[label] = round((ns - t_up_ns) / 1e6, 1)
    for side in ("b", "peer"):
        for line in benchlib.read_lines("%s-monitor-%s.txt" % (pre, side)):
            ts, _, rest = line.partition(" ")
            if not ts.isdigit():
                continue
            ns = int(ts) * 1000
            if ns < t_break_ns:
                continue
            try:
                kind = json.loads(rest).get("event") or json.loads(rest).get("type")
            except ValueError:
                continue
            label = "%s_monitor_%s" % (side, kind)
            if kind and label not in ev:
                ev[label] = round((ns - t_up_ns) / 1e6, 1)
    return ev


def collect(resdir):
    meta = benchlib.read_tsv(os.path.join(resdir, "meta.tsv"))
    moves = []
    for line in benchlib.read_lines(os.path.join(resdir, "moves.tsv")):
        f = line.split("\t")
        if len(f) != 6:
            continue
        c, rep, frm, to, tb, tu = f
        tb, tu = int(tb), int(tu)
        pre = os.path.join(resdir, "%s-%s" % (c, rep))
        m = {"case": c, "rep": int(rep), "from": frm, "to": to,
             "address_change_ms": round((tu - tb) / 1e6, 1)}
        m["handover_b_ms"], m["outage_b_ms"], m["ping_lost_b"] = ping_handover(pre + "-ping-b.txt", tu)
        m["handover_peer_ms"], m["outage_peer_ms"], m["ping_lost_peer"] = ping_handover(pre + "-ping-peer.txt", tu)
        hs = [x for x in (m["handover_b_ms"], m["handover_peer_ms"]) if x is not None]
        m["handover_ms"] = max(hs) if len(hs) == 2 else None
        os_ = [x for x in (m["outage_b_ms"], m["outage_peer_ms"]) if x is not None]
        m["outage_ms"] = max(os_) if os_ else None
        m.update(iperf_figures(pre + "-iperf.json"))
        m.update(tcp_figures(pre + "-tcp.json", tb))
        m["tcp_connections_lost"] = m["iperf_lost"] + m["tcp_lost"]
        m["events_ms"] = events(pre, tb, tu)
        m["state"] = benchlib.read_tsv(pre + "-state.tsv")
        moves.append(m)
    cases = {}
    for c in CASES:
        ms = [m for m in moves if m["case"] == c]
        if not ms:
            continue
        s = {k: benchlib.summary([m.get(k) for m in ms]) for k in
             ("handover_ms", "handover_b_ms", "handover_peer_ms", "outage_ms", "address_change_ms",
              "iperf_stall_ms", "tcp_stall_ms", "ping_lost_b", "ping_lost_peer")}
        s["moves"] = len(ms)
        s["tcp_connections_lost"] = sum(m["tcp_connections_lost"] for m in ms)
        s["tcp_connections"] = 2 * len(ms)
        evs = sorted({k for m in ms for k in m["events_ms"]})
        s["events_ms"] = {k: benchlib.summary([m["events_ms"].get(k) for m in ms]) for k in evs}
        cases[c] = s
    return {"meta": meta, "moves": moves, "cases": cases,
            "errors": benchlib.read_lines(os.path.join(resdir, "errors.txt"))}


def table(d):
    out = []
    meta = d.get("meta", {})
    out.append("Handover: B moves between two NATs under traffic (%s moves per case; ping %s pps each way, "
               "iperf3 -R at %s, one echo connection)" % (meta.get("repetitions", "?"), meta.get("ping_pps", "?"),
                                                         meta.get("iperf_rate", "?")))
    out.append("handover = B has its new address (t_up) -> first echo reply to a request sent after it;")
    out.append("outage = longest gap between two echo replies (includes the address change); ms, median [min-max]")
    out.append("")
    hdr = "%-8s %5s  %-22s %-22s %-22s %-22s %-9s %-22s %-22s" % (
        "case", "moves", "handover (both ways)", "  B's ping", "  peer's ping", "outage", "TCP lost",
        "iperf3 stall", "echo stall")
    benchlib.rule(out, hdr)

    def mm(s, spec="%.0f"):
        if not s or not s.get("n"):
            return "-"
        return "%s [%s-%s]" % (spec % s["median"], spec % s["min"], spec % s["max"])

    for c, s in d.get("cases", {}).items():
        out.append("%-8s %5d  %-22s %-22s %-22s %-22s %-9s %-22s %-22s" % (
            c, s["moves"], mm(s["handover_ms"]), mm(s["handover_b_ms"]), mm(s["handover_peer_ms"]),
            mm(s["outage_ms"]), "%d/%d" % (s["tcp_connections_lost"], s["tcp_connections"]),
            mm(s["iperf_stall_ms"]), mm(s["tcp_stall_ms"])))
    out.append("")
    out.append("where the time goes: ms after t_up, median [min-max] (daemon logs, ntmctl monitor)")
    for c, s in d.get("cases", {}).items():
        for k, v in s.get("events_ms", {}).items():
            out.append("  %-8s %-34s %s (n=%d)" % (c, k, mm(v, "%.0f"), v.get("n", 0)))
    out.append("")
    hdr = "%-8s %3s %-7s %9s %9s %9s %9s %6s %6s %8s %8s %4s" % (
        "case", "rep", "move", "addr ms", "B ms", "peer ms", "outage", "lostB", "lostP", "iperf", "echo", "TCP")
    benchlib.rule(out, hdr)
    for m in d.get("moves", []):
        out.append("%-8s %3d %-7s %9s %9s %9s %9s %6s %6s %8s %8s %4s" % (
            m["case"], m["rep"], "%s>%s" % (m["from"], m["to"]), benchlib.fmt(m["address_change_ms"], "%.1f"),
            benchlib.fmt(m["handover_b_ms"], "%.0f"), benchlib.fmt(m["handover_peer_ms"], "%.0f"),
            benchlib.fmt(m["outage_ms"], "%.0f"),
            benchlib.fmt(m["ping_lost_b"]), benchlib.fmt(m["ping_lost_peer"]),
            benchlib.fmt(m.get("iperf_stall_ms"), "%.0f"), benchlib.fmt(m.get("tcp_stall_ms"), "%.0f"),
            benchlib.fmt(m["tcp_connections_lost"])))
    out.append("")
    out.append("kernel %s, %s CPUs, %s; %s s in all" % (meta.get("kernel", "?"), meta.get("cpus", "?"),
                                                    meta.get("virt", "?"), meta.get("total_seconds", "?")))
    return benchlib.finish(out, d.get("errors", []))


def chart(d, png):
    plt = benchlib.pyplot()
    cases = list(d.get("cases", {}))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    keys = [("handover_ms", "handover"), ("outage_ms", "ping outage"),
            ("iperf_stall_ms", "iperf3 stall"), ("tcp_stall_ms", "echo stall")]
    for ax, (k, title) in zip(axes, [(keys[:2], "handover, outage (ms)"), (keys[2:], "TCP stall (ms)")]):
        width = 0.8 / len(k)
        for i, (key, label) in enumerate(k):
            meds = [d["cases"][c][key].get("median", 0) for c in cases]
            los = [meds[j] - d["cases"][c][key].get("min", 0) for j, c in enumerate(cases)]
            his = [d["cases"][c][key].get("max", 0) - meds[j] for j, c in enumerate(cases)]
            xs = [j + i * width for j in range(len(cases))]
            bars = ax.bar(xs, meds, width, yerr=[los, his], capsize=3, label=label)
            benchlib.label_bars(ax, bars, meds, "%.0f")
        ax.axhline(500, color="grey", linestyle=":", linewidth=1)
        ax.set_xticks([j + width * (len(k) - 1) / 2 for j in range(len(cases))])
        ax.set_xticklabels(cases)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    benchlib.save(fig, png, "NTM handover between two NATs: median, min-max (dotted: 500 ms target)")


if __name__ == "__main__":
    sys.exit(benchlib.main(sys.argv, __doc__, collect, table, chart))
