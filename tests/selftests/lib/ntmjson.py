#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ntmjson.py - read `ntmctl -j` output in the selftests.

  ntmjson.py tunnels             "COUNT UNIQUE" of tunnel objects on stdin
  ntmjson.py events FILE TYPE    number of TYPE events in a monitor log
  ntmjson.py event FILE TYPE PATH  field of the first TYPE event
  ntmjson.py last-event FILE TYPE PATH  field of the last TYPE event

PATH is dotted (stats.rx_packets).  Missing values print nothing and exit 1.
The tool looks for the object that holds the first path component, so it
does not depend on whether ntmctl wraps objects in lists or envelopes.
One field of a device or a tunnel: topo_json in topo.sh (jq, the same
search; a python3 costs 0.4-1 s in the guest).
"""
import json
import sys

EVENT_KEYS = ("event", "type", "cmd", "kind", "name")


def load_all(text):
    """Parse one JSON document, or JSON lines, into a list of documents."""
    text = text.strip()
    if not text:
        return []
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    docs = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            docs.append(json.loads(line))
        except ValueError:
            continue
    return docs


def walk(obj):
    """Breadth-first over every dict inside obj."""
    queue = [obj]
    while queue:
        o = queue.pop(0)
        if isinstance(o, dict):
            yield o
            queue.extend(o.values())
        elif isinstance(o, list):
            queue.extend(o)


def tunnels(obj):
    """Every tunnel object (a dict with local_index), outermost only."""
    found = []

    def rec(o):
        if isinstance(o, dict):
            if "local_index" in o and isinstance(o["local_index"], int):
                found.append(o)
                return
            for v in o.values():
                rec(v)
        elif isinstance(o, list):
            for v in o:
                rec(v)

    rec(obj)
    return found


def field(obj, path):
    parts = path.split(".")
    holder = None
    for d in walk(obj):
        if parts[0] in d:
            holder = d
            break
    if holder is None:
        return None
    v = holder
    for p in parts:
        if isinstance(v, dict) and p in v:
            v = v[p]
        elif isinstance(v, list) and p.isdigit() and int(p) < len(v):
            v = v[int(p)]
        else:
            return None
    return v


def show(v):
    if v is None:
        return 1
    if isinstance(v, bool):
        print(1 if v else 0)
    elif isinstance(v, (dict, list)):
        print(json.dumps(v, sort_keys=True))
    else:
        print(v)
    return 0


def event_type(ev):
    if not isinstance(ev, dict):
        return ""
    for k in EVENT_KEYS:
        v = ev.get(k)
        if isinstance(v, str):
            return v.lower()
    return ""


def matching_events(fname, typ):
    try:
        with open(fname, encoding="utf-8", errors="replace") as f:
            docs = load_all(f.read())
    except OSError:
        return []
    typ = typ.lower()
    out = []
    for d in docs:
        evs = d if isinstance(d, list) else [d]
        for ev in evs:
            t = event_type(ev)
            if t == typ or t.endswith("_" + typ) or t.endswith(typ):
                out.append(ev)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "tunnels":
        docs = load_all(sys.stdin.read())
        doc = docs[0] if len(docs) == 1 else docs
        ts = tunnels(doc)
        print(len(ts), len({t["local_index"] for t in ts}))
        return 0
    if cmd == "events":
        print(len(matching_events(argv[2], argv[3])))
        return 0
    if cmd == "event":
        evs = matching_events(argv[2], argv[3])
        if not evs:
            return 1
        return show(field(evs[0], argv[4]))
    if cmd == "last-event":
        evs = matching_events(argv[2], argv[3])
        if not evs:
            return 1
        return show(field(evs[-1], argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
