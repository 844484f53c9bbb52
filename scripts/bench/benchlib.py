# SPDX-License-Identifier: GPL-2.0
"""benchlib.py - what the benchmark result scripts share.

results.py, esp_results.py, sig_results.py and ike_results.py import it as
a sibling module (they are run as python3 scripts/bench/X.py, which puts
scripts/bench first on sys.path).
"""
import glob
import json
import os
import re
import statistics
import sys


def num(v):
    """v as an int, else as a float, else unchanged"""
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def read_tsv(path):
    """KEY<TAB>VALUE lines as a dict (values through num); {} without the file"""
    d = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 2:
                    d[parts[0]] = num(parts[1])
    except OSError:
        pass
    return d


def read_json(path):
    """the JSON document in path, None when absent or not JSON"""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_lines(path, strip=False, errors=None):
    """the non-blank lines of path ([] without it): without their newline,
    or stripped on both sides with strip; errors as for open()"""
    try:
        with open(path, encoding="utf-8", errors=errors) as f:
            return [line.strip() if strip else line.rstrip("\n") for line in f if line.strip()]
    except OSError:
        return []


def indexes(resdir, prefix):
    """the sorted run numbers I of the files RESDIR/PREFIX-I.tsv"""
    pat = re.compile(r"%s-(\d+)\.tsv$" % re.escape(prefix))
    return sorted(int(m.group(1)) for m in (pat.search(p)
                                            for p in glob.glob(os.path.join(resdir, prefix + "-*.tsv"))) if m)


def ratio(a, b, digits=3, scale=1):
    """a * scale / b rounded to digits, None unless both are numbers and b > 0"""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
        return round(a * scale / b, digits)
    return None


def summary(vals, digits=1):
    """median, min, max, spread ((max - min) / median) and n of the numbers in vals"""
    v = [x for x in vals if isinstance(x, (int, float))]
    if not v:
        return {"n": 0}
    med = statistics.median(v)
    return {"n": len(v), "median": round(med, digits), "min": round(min(v), digits),
            "max": round(max(v), digits),
            "spread_pct": round(100.0 * (max(v) - min(v)) / med, 1) if med else None}


def fmt(v, spec="%s"):
    """a number through spec, "-" for anything else"""
    return spec % v if isinstance(v, (int, float)) else "-"


def rule(out, hdr):
    """a table header and its underline"""
    out.append(hdr)
    out.append("-" * len(hdr))


def finish(out, errors):
    """the table's text: its lines, then the errors of the run, if any"""
    if errors:
        out.append("")
        out.append("errors:")
        out.extend("  " + e for e in errors)
    return "\n".join(out) + "\n"


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def label_bars(ax, bars, vals, spec="%s", fontsize=8):
    """each bar's value above it; spec a format string or a function"""
    for b, v in zip(bars, vals):
        ax.annotate(spec(v) if callable(spec) else spec % v, (b.get_x() + b.get_width() / 2, v),
                    ha="center", va="bottom", fontsize=fontsize)


def save(fig, png, title, fontsize=10):
    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main(argv, usage, collect, table, chart, indent=2, collect_args=1, exact=False):
    """X.py collect ARGS... | table RESULTS.json | chart RESULTS.json OUT.png.
    collect takes up to collect_args arguments; with exact, a command with
    more arguments than it takes is a usage error (else they are ignored)."""
    def given(cmd, n):
        if argv[1:2] != [cmd]:
            return False
        return len(argv) == n if exact else len(argv) >= n

    if given("collect", 3):
        json.dump(collect(*argv[2:2 + collect_args]), sys.stdout, indent=indent, sort_keys=True)
        print()
        return 0
    if given("table", 3):
        with open(argv[2], encoding="utf-8") as f:
            sys.stdout.write(table(json.load(f)))
        return 0
    if given("chart", 4):
        with open(argv[2], encoding="utf-8") as f:
            chart(json.load(f), argv[3])
        return 0
    print(usage, file=sys.stderr)
    return 2
