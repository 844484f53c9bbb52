#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""relaycase.py - hostile datagrams toward a Relay Server for
ntm_relay_cases.sh.  Run it inside the sending namespace.  Plain and raw
sockets only; pcap parsing comes from ntmpkt.py.

  spoof --src IP --sport P --dst IP --dport P --index N [--count N] [--size S]
      COUNT datagrams that look like NTM data messages (type 1, receiver
      INDEX, a random body; S bytes of UDP payload, default 200) from a
      forged source SRC:SPORT through a raw socket
  sigs PCAP [PORT]
      the signalling envelopes of kind 0x11 (K_tun) sent to PORT (7480) in
      PCAP, one per line: "SRC SPORT KEY_ID SEQ LENGTH HEX"
  send --hex HEX --dst IP --dport P [--src IP] [--sport P] [--raw] [--wait S]
      send the UDP payload HEX once.  Without --raw from a plain socket
      bound to SRC:SPORT (any address and port by default), then wait S
      seconds (default 2) and print the number of datagrams that came
      back; with --raw from the forged source SRC:SPORT, print 0
"""
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ntmpkt  # noqa: E402

KIND_TUN = 0x11


def opts(args, spec):
    o = dict(spec)
    i = 0
    while i < len(args):
        k = args[i].lstrip("-")
        if k not in o:
            raise SystemExit("unknown option %s" % args[i])
        if isinstance(o[k], bool):
            o[k] = True
            i += 1
        else:
            o[k] = type(o[k])(args[i + 1]) if o[k] is not None else args[i + 1]
            i += 2
    return o


def packed(addr):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.inet_pton(fam, addr)


def cmd_spoof(args):
    o = opts(args, {"src": None, "sport": 0, "dst": None, "dport": 0, "index": "0",
                    "count": 1, "size": 200})
    index = int(o["index"], 0)
    for c in range(o["count"]):
        payload = struct.pack("!IIQ", 1, index, 1000 + c) + os.urandom(max(o["size"] - 16, 16))
        udp = ntmpkt.build_udp(packed(o["src"]), packed(o["dst"]), o["sport"], o["dport"], payload)
        ntmpkt.raw_send(o["src"], o["dst"], udp)
    print(o["count"])


def cmd_sigs(args):
    port = int(args[1]) if len(args) > 1 else 7480
    for raw in ntmpkt.read_pcap(args[0]):
        f = ntmpkt.Frame(raw)
        if not f.ok or f.dport != port or len(f.payload) < 16:
            continue
        kind, key_id, seq = struct.unpack("!IIQ", bytes(f.payload[:16]))
        if kind != KIND_TUN:
            continue
        fam = socket.AF_INET if f.v == 4 else socket.AF_INET6
        print("%s %d %#010x %d %d %s" % (socket.inet_ntop(fam, bytes(f.src)), f.sport, key_id, seq,
                                         len(f.payload), bytes(f.payload).hex()))


def cmd_send(args):
    o = opts(args, {"hex": None, "dst": None, "dport": 0, "src": None, "sport": 0, "raw": False,
                    "wait": 2.0})
    payload = bytes.fromhex(o["hex"])
    if o["raw"]:
        udp = ntmpkt.build_udp(packed(o["src"]), packed(o["dst"]), o["sport"], o["dport"], payload)
        ntmpkt.raw_send(o["src"], o["dst"], udp)
        print(0)
        return
    fam = socket.AF_INET6 if ":" in o["dst"] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((o["src"] or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), o["sport"]))
    s.sendto(payload, (o["dst"], o["dport"]))
    answers = 0
    end = time.monotonic() + o["wait"]
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if r:
            try:
                s.recv(65536)
                answers += 1
            except OSError:
                pass  # an ICMP error of the send: not an answer
    s.close()
    print(answers)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = {"spoof": cmd_spoof, "sigs": cmd_sigs, "send": cmd_send}.get(sys.argv[1])
    if cmd is None:
        print(__doc__, file=sys.stderr)
        return 2
    cmd(sys.argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
