#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""pyserve.py - one long-lived interpreter per namespace for the selftests'
short Python helpers (topo_py in topo.sh).

Under TCG a new python3 costs 0.4-1 s before the helper does anything
(startup, site, compiling ntm_genl.py as __main__); the suites call such
helpers hundreds of times to read counters.  This server runs them in
process instead: each request is one line on stdin, the fields separated
by US (0x1f): the script's path, then its arguments.  The script runs as
__main__ with that sys.argv (its code compiled once per path and mtime, the
modules it imports kept), its stdout and stderr captured.  The answer is
one line per output line, "O text" (stdout) or "E text" (stderr), then
"R status".  A SystemExit gives its status, an exception a traceback on
stderr and status 1.  EOF on stdin ends the server.

Only for helpers that run briefly and do not read stdin: a long-running one
(monitor, own) keeps its own process.
"""
import contextlib
import io
import os
import sys
import traceback

CODE = {}


def compiled(path):
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    code = CODE.get(key)
    if code is None:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        CODE[key] = code
    return code


def status_of(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_path, saved_stdin = sys.argv, list(sys.path), sys.stdin
    sys.stdin = io.StringIO("")  # the requests are not the helper's input
    rc = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = compiled(argv[0])
            sys.argv = list(argv)
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            exec(code, {"__name__": "__main__", "__file__": argv[0],
                        "__builtins__": __builtins__})
        except SystemExit as e:
            rc = status_of(e.code)
        except BaseException:  # the helper's failure, not the server's
            traceback.print_exc()
            rc = 1
        finally:
            sys.argv, sys.path[:], sys.stdin = saved_argv, saved_path, saved_stdin
    return rc, out.getvalue(), err.getvalue()


def main():
    stdout, stdin = sys.stdout, sys.stdin
    for line in stdin:
        argv = line.rstrip("\n").split("\x1f")
        if not argv[0]:
            stdout.write("E pyserve: empty request\nR 2\n")
            stdout.flush()
            continue
        rc, out, err = run(argv)
        res = ["O " + s for s in out.splitlines()]
        res += ["E " + s for s in err.splitlines()]
        res.append("R %d" % (rc & 0xff))
        stdout.write("\n".join(res) + "\n")
        stdout.flush()


if __name__ == "__main__":
    main()
