#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""nlspec-check.py - check Documentation/netlink/specs/ntm.yaml (D84).

1. The spec validates against the vendored YNL schema
   Documentation/netlink/genetlink-legacy.yaml (python3-jsonschema when it
   is installed, else a small built-in validator of the same keywords).
2. The spec agrees with uapi/linux/ntm.h: every enum, flag, attribute,
   command and constant, by C name and numeric value (values come from gcc
   compiling a tiny program against the header, never from a hand parser),
   and the layout of its structs (sizeof/offsetof).
3. The spec agrees with the kernel: every nla_policy table in kmod/*.c
   (type and checks), the nested policies, the genl_ops table (do/dump,
   start hook, permission flags), the family (name, version, maxattr,
   global policy), the multicast groups, the type of every nla_put_*() of
   a named attribute, and the top-level attributes of each do/dump request,
   reply and each event (what the handler and the kmod/ functions it calls
   or passes read from attrs[] or write).

Every mismatch is printed on its own line; the exit status is 1 when there
is one.  --self-test mutates copies of the spec, header and policies and
checks that each mutation is caught.
"""

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SPEC = "Documentation/netlink/specs/ntm.yaml"
SCHEMA = "Documentation/netlink/genetlink-legacy.yaml"
HEADER = "uapi/linux/ntm.h"
KMOD = "kmod"

INT_TYPES = {
    "u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1), "s8": (-2**7, 2**7 - 1), "s16": (-2**15, 2**15 - 1),
    "s32": (-2**31, 2**31 - 1), "s64": (-2**63, 2**63 - 1),
}
NLA_SCALAR = {"NLA_" + t.upper(): t for t in INT_TYPES}
SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "s8": 1, "s16": 2, "s32": 4, "s64": 8}


def c_upper(name):
    return name.upper().replace("-", "_")


# ---- schema ---------------------------------------------------------------

def mini_validate(inst, schema, root, path, errs):
    """The JSON Schema (draft 7) keywords the YNL schemas use."""
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        mini_validate(inst, node, root, path, errs)
        return
    where = "/".join(str(p) for p in path) or "(top)"
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        pyt = {"object": dict, "array": list, "string": str, "boolean": bool,
               "null": type(None)}
        ok = False
        for t in types:
            if t == "integer":
                ok |= isinstance(inst, int) and not isinstance(inst, bool)
            elif isinstance(inst, pyt[t]):
                ok = True
        if not ok:
            errs.append(f"schema: {where}: {inst!r} is not of type {types}")
            return
    if "enum" in schema and inst not in schema["enum"]:
        errs.append(f"schema: {where}: {inst!r} is not one of {schema['enum']}")
    if "pattern" in schema and isinstance(inst, str) and \
            not re.search(schema["pattern"], inst):
        errs.append(f"schema: {where}: {inst!r} does not match {schema['pattern']}")
    if "minimum" in schema and isinstance(inst, int) and not isinstance(inst, bool) \
            and inst < schema["minimum"]:
        errs.append(f"schema: {where}: {inst} is less than {schema['minimum']}")
    if "oneOf" in schema:
        n = 0
        for sub in schema["oneOf"]:
            e = []
            mini_validate(inst, sub, root, path, e)
            n += not e
        if n != 1:
            errs.append(f"schema: {where}: matches {n} of oneOf, not 1")
    if "not" in schema:
        e = []
        mini_validate(inst, schema["not"], root, path, e)
        if not e:
            errs.append(f"schema: {where}: matches a 'not' schema")
    if "if" in schema:
        e = []
        mini_validate(inst, schema["if"], root, path, e)
        if not e and "then" in schema:
            mini_validate(inst, schema["then"], root, path, errs)
    if isinstance(inst, dict):
        for req in schema.get("required", []):
            if req not in inst:
                errs.append(f"schema: {where}: '{req}' is a required property")
        props = schema.get("properties", {})
        for k, v in inst.items():
            if k in props:
                mini_validate(v, props[k], root, path + [k], errs)
            elif schema.get("additionalProperties", True) is False:
                errs.append(f"schema: {where}: additional property '{k}' not allowed")
        for k, dep in schema.get("dependencies", {}).items():
            if k in inst:
                mini_validate(inst, dep, root, path, errs)
    if isinstance(inst, list) and "items" in schema:
        for i, v in enumerate(inst):
            mini_validate(v, schema["items"], root, path + [i], errs)


def validate_schema(spec, schema, errs, force_mini=False):
    try:
        if force_mini:
            raise ImportError
        import jsonschema
    except ImportError:
        mini_validate(spec, schema, schema, [], errs)
        return "built-in validator"
    v = jsonschema.Draft7Validator(schema)
    for e in sorted(v.iter_errors(spec), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in e.path) or "(top)"
        msg = e.message if len(e.message) < 200 else e.message[:80] + " ... " + \
            e.message[-100:]
        errs.append(f"schema: {where}: {msg}")
    try:
        from importlib.metadata import version
        return "jsonschema " + version("jsonschema")
    except Exception:  # pylint: disable=broad-except
        return "jsonschema"


# ---- C sources ------------------------------------------------------------

def strip_comments(text):
    """Comments become blanks; newlines stay, so line numbers stay."""
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                  flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def split_top(s, sep=","):
    """Split s at sep outside of (), {}, []."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_header(text):
    code = strip_comments(text)
    enums = {}
    for m in re.finditer(r"enum\s+(\w+)\s*\{(.*?)\}\s*;", code, re.S):
        enums[m.group(1)] = [re.match(r"\s*(\w+)", it).group(1)
                             for it in split_top(m.group(2))]
    defines = {}
    for m in re.finditer(r"^#define[ \t]+(\w+)[ \t]+(\S[^\n]*)$", code, re.M):
        defines[m.group(1)] = m.group(2).strip()
    structs = {}
    for m in re.finditer(r"struct\s+(\w+)\s*\{(.*?)\}\s*;", code, re.S):
        members = []
        for decl in m.group(2).split(";"):
            d = re.match(r"\s*__(u|s|be|le)(8|16|32|64)\s+(\w+)\s*(?:\[(\d+)\])?\s*$",
                         decl)
            if d:
                members.append((d.group(3), d.group(1), int(d.group(2)),
                                int(d.group(4)) if d.group(4) else None))
            elif decl.strip():
                members.append((decl.strip(), "?", 0, None))
        structs[m.group(1)] = members
    return enums, defines, structs


def parse_policies(files):
    """{policy name: (size expr, [(attr, value text, file)])}, ranges."""
    pols, ranges = {}, {}
    for f, text in files:
        code = strip_comments(text)
        for m in re.finditer(r"nla_policy\s+(\w+)\s*\[([^\]]+)\]\s*=\s*\{(.*?)\}\s*;",
                             code, re.S):
            entries = []
            for it in split_top(m.group(3)):
                e = re.match(r"\[(\w+)\]\s*=\s*(.*)$", it, re.S)
                if e:
                    entries.append((e.group(1), " ".join(e.group(2).split()), f))
            pols[m.group(1)] = (m.group(2).strip(), entries)
        for m in re.finditer(r"netlink_range_validation(?:_signed)?\s+(\w+)\s*=\s*\{(.*?)\}\s*;",
                             code, re.S):
            r = {}
            for it in split_top(m.group(2)):
                e = re.match(r"\.(min|max)\s*=\s*(.*)$", it, re.S)
                if e:
                    r[e.group(1)] = " ".join(e.group(2).split())
            ranges[m.group(1)] = r
    return pols, ranges


def parse_kernel_family(files):
    ops, family, mcgrps, puts, cmd_uses = [], {}, [], [], set()
    for f, text in files:
        code = strip_comments(text)
        for m in re.finditer(r"struct\s+genl_(?:small_|split_)?ops\s+\w+\s*\[\]\s*=\s*\{(.*?)\n\}\s*;",
                             code, re.S):
            for blk in split_top(m.group(1)):
                op = {}
                for it in split_top(blk.strip("{} \n\t")):
                    e = re.match(r"\.(\w+)\s*=\s*(.*)$", it, re.S)
                    if e:
                        op[e.group(1)] = " ".join(e.group(2).split())
                if op:
                    ops.append(op)
        m = re.search(r"struct\s+genl_family\s+\w+[^=]*=\s*\{(.*?)\}\s*;", code, re.S)
        if m:
            for it in split_top(m.group(1)):
                e = re.match(r"\.(\w+)\s*=\s*(.*)$", it, re.S)
                if e:
                    family[e.group(1)] = " ".join(e.group(2).split())
        m = re.search(r"genl_multicast_group\s+\w+\s*\[\]\s*=\s*\{(.*?)\n?\}\s*;", code, re.S)
        if m:
            mcgrps += re.findall(r"\.name\s*=\s*(\w+|\"[^\"]*\")", m.group(1))
        for m in re.finditer(r"\b(nla_put(?:_\w+)?|nla_nest_start(?:_noflag)?)\s*\(\s*\w+\s*,\s*(NTM_\w+)",
                             code):
            line = code.count("\n", 0, m.start()) + 1
            puts.append((m.group(1), m.group(2), f"{f}:{line}"))
        cmd_uses |= set(re.findall(r"\bNTM_CMD_\w+", code))
    return ops, family, mcgrps, puts, cmd_uses


_CALLEES = {}


def _callees(funcs, f):
    """kmod/ functions f calls or passes, event builders excepted."""
    key = (id(funcs), f)
    if key not in _CALLEES:
        _CALLEES[key] = [c for c in dict.fromkeys(re.findall(r"\b\w+\b", funcs[f]))
                         if c in funcs and c != f and
                         not re.search(r"\bNTM_CMD_EVENT_\w+", funcs[c])]
    return _CALLEES[key]


def walk_attrs(funcs, starts, names, in_body):
    """Union of in_body(body) & names over functions `starts` and every
    kmod/ function they call or pass, transitively, event builders excepted
    (_callees): the one walk behind read_attrs and sent_attrs."""
    seen, todo, found = set(), list(starts), set()
    while todo:
        f = todo.pop()
        if f in seen or f not in funcs:
            continue
        seen.add(f)
        found |= in_body(funcs[f]) & names
        todo += [c for c in _callees(funcs, f) if c not in seen]
    return found


def read_attrs(funcs, starts, names):
    """Attributes of `names` that functions `starts` read from a request
    (attrs[X], info->attrs[X]), themselves or through the kmod/ functions
    they call or pass, event builders excepted."""
    return walk_attrs(funcs, starts, names,
                      lambda body: set(re.findall(r"\battrs\s*\[\s*(NTM_\w+)\s*\]", body)))


_GCC_CACHE = {}


def parse_functions(files):
    """{function: body} of every function defined in kmod/*.c (kernel style:
    the body's closing brace is alone in column 0)."""
    funcs = {}
    for _, text in files:
        code = strip_comments(text)
        for m in re.finditer(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\(([^;{]*?)\)\s*\{(.*?)^\}",
                             code, re.S | re.M):
            funcs[m.group(1)] = m.group(3)
    return funcs


def _call_args(body, pos):
    """The text between the parenthesis at body[pos] and its partner."""
    depth = 0
    for i in range(pos, len(body)):
        depth += {"(": 1, ")": -1}.get(body[i], 0)
        if depth == 0:
            return body[pos + 1:i]
    return body[pos + 1:]


def _written(funcs, body):
    """NTM_* names in body's nla_put*()/nla_nest_start*() attribute argument
    and in the arguments it passes to kmod/ functions (subscripts dropped)."""
    found = set(re.findall(r"\b(?:nla_put\w*|nla_nest_start\w*)\s*\(\s*[^,()]+,\s*(NTM_\w+)", body))
    for m in re.finditer(r"\b(\w+)\s*\(", body):
        if m.group(1) in funcs:
            args = re.sub(r"\[[^\]]*\]", "", _call_args(body, m.end() - 1))
            found |= set(re.findall(r"\bNTM_\w+", args))
    return found


def sent_attrs(funcs, start, names):
    """Attributes of `names` that function `start` writes into a message,
    itself or through the kmod/ functions it calls or passes (transitively):
    the attribute argument of nla_put*()/nla_nest_start*() and attribute
    names passed to a kmod/ function (ntm_put_stats(skb, NTM_A_STATS, ..)).
    Attributes read from a request (attrs[X], tb[X]) do not count, and
    the functions that build an event are not followed from elsewhere."""
    return walk_attrs(funcs, [start], names, lambda body: _written(funcs, body))


def gcc_eval(root, exprs, structs):
    """Values of C expressions (and struct layouts) from the real header.

    gcc -S compiles them into constants; nothing is linked or run."""
    lines = ["#include <stddef.h>", "#include <net/if.h>", "#include <netinet/in.h>",
             '#include "linux/ntm.h"']
    for i, e in enumerate(exprs):
        lines.append(f"const long long v_{i} = (long long)({e});")
        lines.append(f"const long long n_{i} = ({e}) < 0;")
    keys = []
    for s, members in structs.items():
        keys.append((s, None))
        lines.append(f"const long long o_{len(keys) - 1} = 0;")
        lines.append(f"const long long z_{len(keys) - 1} = sizeof(struct {s});")
        for mname in members:
            keys.append((s, mname))
            lines.append(f"const long long o_{len(keys) - 1} = offsetof(struct {s}, {mname});")
            lines.append(f"const long long z_{len(keys) - 1} = "
                         f"sizeof(((struct {s} *)0)->{mname});")
    with open(os.path.join(root, HEADER)) as fh:
        key = (fh.read(), "\n".join(lines))
    if key not in _GCC_CACHE:
        _GCC_CACHE[key] = _gcc_run(root, lines, exprs, keys)
    return _GCC_CACHE[key]


def _gcc_run(root, lines, exprs, keys):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "v.c")
        with open(src, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        p = subprocess.run(["gcc", "-w", "-S", "-I", os.path.join(root, "uapi"),
                            "-o", "-", src], capture_output=True, text=True)
    if p.returncode:
        return None, p.stderr
    raw = {m.group(1): int(m.group(2) or 0) for m in
           re.finditer(r"^(\w+):\s*\n\s*\.(?:quad\s+(-?\d+)|zero\s+8)\s*$",
                       p.stdout, re.M)}
    vals, layout = {}, {}
    for i, e in enumerate(exprs):
        v = raw[f"v_{i}"]
        vals[e] = v if raw[f"n_{i}"] else v & (2**64 - 1)
    for i, k in enumerate(keys):
        layout[k] = (raw[f"o_{i}"], raw[f"z_{i}"])
    return (vals, layout), None


# ---- the spec as C names and values ---------------------------------------

class Spec:
    def __init__(self, y, errs):
        self.y, self.errs = y, errs
        fam = y["name"]
        self.consts, self.defs, self.sets, self.set_by_cname = {}, {}, {}, {}
        self.enums = {}   # C enum name -> (kind, [(C name, value)], helpers)
        for d in y.get("definitions", []):
            self.defs[d["name"]] = d
            if d["type"] == "const":
                self.consts[c_upper(f"{fam}-{d['name']}")] = d
            elif d["type"] in ("enum", "flags"):
                pfx = d.get("name-prefix", f"{fam}-{d['name']}-")
                val = d.get("value-start", 0 if d["type"] == "enum" else None)
                entries = []
                for i, e in enumerate(d.get("entries", [])):
                    e = e if isinstance(e, dict) else {"name": e}
                    if d["type"] == "flags":
                        v = 1 << e["value"] if "value" in e else 1 << i
                    else:
                        v = e.get("value", val)
                        val = v + 1
                    entries.append((c_upper(pfx + e["name"]), v))
                helpers = {}
                if d["type"] == "enum" and d.get("render-max"):
                    cnt = d.get("enum-cnt-name", f"__{pfx}max")
                    helpers[c_upper(cnt)] = max(v for _, v in entries) + 1
                if d["type"] == "flags":
                    mask = 0
                    for _, v in entries:
                        mask |= v
                    d["_mask"] = mask
                    # ntm's own convention for the mask (ynl-gen would
                    # render PREFIX_MASK): __PREFIX_ALL
                    helpers[c_upper(f"__{pfx}all")] = mask
                ename = d.get("enum-name", c_upper(f"{fam}-{d['name']}").lower())
                self.enums[ename] = (d["type"], entries, helpers, d)
        for s in y["attribute-sets"]:
            pfx = s.get("name-prefix", f"{fam}-{s['name']}-a-")
            val, attrs = 1, []
            for a in s["attributes"]:
                v = a.get("value", val)
                val = v + 1
                a["_c"], a["_v"], a["_set"] = c_upper(pfx + a["name"]), v, s["name"]
                attrs.append(a)
            s["_max"] = c_upper(s.get("attr-max-name", pfx + "max"))
            cnt = c_upper(s.get("attr-cnt-name", f"__{pfx}max"))
            self.sets[s["name"]] = s
            ename = s.get("enum-name", c_upper(f"{fam}-{s['name']}-attrs").lower())
            helpers = {cnt: max(a["_v"] for a in attrs) + 1}
            self.enums[ename] = ("attrs", [(a["_c"], a["_v"]) for a in attrs], helpers, s)
            for a in attrs:
                self.set_by_cname[a["_c"]] = a
        ops = y["operations"]
        pfx = ops.get("name-prefix", f"{fam}-cmd-")
        val, entries = 1, []
        for o in ops["list"]:
            v = o.get("value", val)
            val = v + 1
            o["_c"] = c_upper(pfx + o["name"])
            entries.append((o["_c"], v))
        self.cmd_max = c_upper(y.get("cmd-max-name", pfx + "max"))
        cnt = c_upper(y.get("cmd-cnt-name", f"__{pfx}max"))
        ename = ops.get("enum-name", f"{fam}_commands")
        # genetlink keeps command 0 unused: PREFIX_UNSPEC in the header
        self.enums[ename] = ("cmds", entries,
                             {cnt: max(v for _, v in entries) + 1,
                              c_upper(pfx + "unspec"): 0}, ops)
        self.ops = ops["list"]
        self.mcgrps = y.get("mcast-groups", {}).get("list", [])

    def limit(self, v):
        """A check value: literal, const name or u32-max style limit."""
        if isinstance(v, int):
            return v
        if v.endswith(" - 1"):
            return self.limit(v[:-4]) - 1
        if v in self.defs and self.defs[v]["type"] == "const":
            return self.defs[v]["value"]
        m = re.match(r"^([us])(8|16|32|64)-(min|max)$", v)
        if m:
            lo, hi = INT_TYPES[m.group(1) + m.group(2)]
            return lo if m.group(3) == "min" else hi
        if re.match(r"^-?\d+$", v):
            return int(v)
        self.errs.append(f"spec: check value '{v}' is neither a number nor a const")
        return None

    def struct_size(self, name):
        total = 0
        for mem in self.defs[name]["members"]:
            total += SIZES.get(mem["type"]) or self.limit(mem.get("len", 0))
        return total


def spec_consistency(sp, errs):
    names = set()
    for s in sp.sets.values():
        seen = set()
        for a in s["attributes"]:
            if a["name"] in seen:
                errs.append(f"spec: set {s['name']}: attribute {a['name']} twice")
            seen.add(a["name"])
            if a.get("nested-attributes") and a["nested-attributes"] not in sp.sets:
                errs.append(f"spec: {s['name']}.{a['name']}: unknown set "
                            f"{a['nested-attributes']}")
            if a["type"] == "nest" and not a.get("nested-attributes"):
                errs.append(f"spec: {s['name']}.{a['name']}: nest without nested-attributes")
            for k in ("enum", "struct"):
                if a.get(k) and a[k] not in sp.defs:
                    errs.append(f"spec: {s['name']}.{a['name']}: unknown {k} {a[k]}")
            fm = a.get("checks", {}).get("flags-mask")
            if fm and sp.defs.get(fm, {}).get("type") != "flags":
                errs.append(f"spec: {s['name']}.{a['name']}: flags-mask {fm} is not flags")
    groups = {g["name"] for g in sp.mcgrps}
    for o in sp.ops:
        if o["name"] in names:
            errs.append(f"spec: operation {o['name']} twice")
        names.add(o["name"])
        aset = sp.sets.get(o.get("attribute-set"))
        if aset is None:
            errs.append(f"spec: {o['name']}: unknown attribute-set {o.get('attribute-set')}")
            continue
        known = {a["name"] for a in aset["attributes"]}
        lists = [("event", o.get("event", {}))]
        for mode in ("do", "dump"):
            for part in ("request", "reply"):
                lists.append((f"{mode} {part}", o.get(mode, {}).get(part, {})))
        for what, lst in lists:
            for n in lst.get("attributes", []):
                if n not in known:
                    errs.append(f"spec: {o['name']} {what}: unknown attribute {n}")
        if "event" in o and o.get("mcgrp") not in groups:
            errs.append(f"spec: {o['name']}: event without a known mcgrp")


# ---- cross-checks -----------------------------------------------------------

def check_header(sp, enums, defines, structs, vals, layout, errs):
    fam = sp.y
    for ename, members in enums.items():
        if ename not in sp.enums:
            errs.append(f"header: enum {ename} is not in the spec")
            continue
        kind, entries, helpers, _ = sp.enums[ename]
        want = dict(entries)
        want.update(helpers)
        for m in members:
            if m not in want:
                errs.append(f"header: {ename}: {m} is not in the spec")
            elif vals.get(m) != want[m]:
                errs.append(f"header: {ename}: {m} = {vals.get(m)}, spec says {want[m]}")
        for c, v in entries:
            if c not in members:
                errs.append(f"spec: {ename}: {c} (= {v}) is not in the header")
    for ename in sp.enums:
        if ename not in enums:
            errs.append(f"spec: enum {ename} is not in the header")
    # defines
    special = {c_upper(fam.get("c-family-name", "")): ("family", fam["name"]),
               c_upper(fam.get("c-version-name", "")): ("version", fam.get("version", 1))}
    for g in sp.mcgrps:
        cname = c_upper(g.get("c-define-name", f"{fam['name']}-mcgrp-{g['name']}"))
        special[cname] = ("mcast group", g["name"])
    maxes = {s["_max"]: s for s in sp.sets.values()}
    for name, val in defines.items():
        if name.startswith("_UAPI_"):
            continue
        if name in maxes:
            s = maxes[name]
            if not sp.y.get("max-by-define"):
                errs.append(f"header: {name} is a define but the spec lacks max-by-define")
            if vals.get(name) != max(a["_v"] for a in s["attributes"]):
                errs.append(f"header: {name} = {vals.get(name)} is not the last "
                            f"attribute of set {s['name']}")
            continue
        if name == sp.cmd_max:
            if vals.get(name) != max(v for _, v in sp.enums_cmds()):
                errs.append(f"header: {name} = {vals.get(name)} is not the last command")
            continue
        hv = val.strip('"') if val.startswith('"') else vals.get(name)
        if name in special:
            what, sv = special[name]
            if hv != sv:
                errs.append(f"header: {name} = {hv!r}, spec {what} is {sv!r}")
            continue
        if name not in sp.consts:
            errs.append(f"header: #define {name} is not in the spec")
            continue
        if hv != sp.consts[name]["value"]:
            errs.append(f"header: {name} = {hv!r}, spec says {sp.consts[name]['value']!r}")
    for cname, d in sp.consts.items():
        if cname not in defines:
            used = any(d["name"] in (a.get("checks") or {}).values()
                       for s in sp.sets.values() for a in s["attributes"])
            if not used:
                errs.append(f"spec: const {d['name']} ({cname}) is not in the header "
                            f"and no check uses it")
    for cname in special:
        if cname and cname not in defines:
            errs.append(f"spec: {cname} ({special[cname][0]}) is not in the header")
    # structs
    for name, d in sp.defs.items():
        if d["type"] != "struct":
            continue
        cname = c_upper(f"{fam['name']}-{name}").lower()
        if cname not in structs:
            errs.append(f"spec: struct {cname} is not in the header")
            continue
        hmembers = {m[0]: m for m in structs[cname]}
        off = 0
        for mem in d["members"]:
            mn = mem["name"].replace("-", "_")
            size = SIZES.get(mem["type"]) or sp.limit(mem.get("len", 0))
            if mn not in hmembers:
                errs.append(f"spec: struct {cname}: member {mn} is not in the header")
                continue
            _, kind, bits, count = hmembers[mn]
            if mem["type"] == "binary":
                ok = kind == "u" and bits == 8 and count == size
            else:
                ok = count is None and bits == 8 * SIZES[mem["type"]] and \
                    kind in (mem["type"][0], "be" if mem.get("byte-order") == "big-endian"
                             else "le" if mem.get("byte-order") == "little-endian" else "")
                if kind in ("be", "le") and mem.get("byte-order") != \
                        ("big-endian" if kind == "be" else "little-endian"):
                    ok = False
                if kind in ("u", "s") and mem.get("byte-order"):
                    ok = False
            if not ok:
                errs.append(f"spec: struct {cname}.{mn}: {mem['type']}"
                            f"{'/' + mem['byte-order'] if mem.get('byte-order') else ''}"
                            f" len {size} differs from the header's __{kind}{bits}"
                            f"{'[%d]' % count if count else ''}")
            if layout.get((cname, mn)) != (off, size):
                errs.append(f"header: struct {cname}.{mn} at offset/size "
                            f"{layout.get((cname, mn))}, spec {(off, size)}")
            off += size
        if layout.get((cname, None)) != (0, off):
            errs.append(f"header: sizeof(struct {cname}) = "
                        f"{layout.get((cname, None), (0, None))[1]}, spec {off}")
        for mn in hmembers:
            if mn not in [m["name"].replace("-", "_") for m in d["members"]]:
                errs.append(f"header: struct {cname}.{mn} is not in the spec")
    for cname in structs:
        if c_upper(cname[len(fam["name"]) + 1:]).lower().replace("_", "-") not in sp.defs:
            errs.append(f"header: struct {cname} is not in the spec")


def policy_to_expect(val, ranges, vals, errs, where):
    """(kind, type, checks, nested policy) of one policy entry."""
    def ev(e):
        e = e.strip()
        if e not in vals:
            errs.append(f"{where}: cannot evaluate '{e}'")
        return vals.get(e)

    m = re.match(r"^\{(.*)\}$", val)
    if m:
        f = {}
        for it in split_top(m.group(1)):
            e = re.match(r"\.(\w+)\s*=\s*(.*)$", it)
            if e:
                f[e.group(1)] = e.group(2)
        t = f.get("type", "NLA_UNSPEC")
        if t == "NLA_REJECT":
            return ("reject", None, {}, None)
        checks = {}
        if t in NLA_SCALAR:
            return ("ok", NLA_SCALAR[t], {}, None)
        if t == "NLA_FLAG":
            return ("ok", "flag", {}, None)
        if t in ("NLA_NUL_STRING", "NLA_STRING"):
            if "len" in f:
                checks["max-len"] = ev(f["len"])
            if t == "NLA_STRING":
                checks["unterminated-ok"] = True
            return ("ok", "string", checks, None)
        if t == "NLA_BINARY":
            if "len" in f:
                checks["max-len"] = ev(f["len"])
            return ("ok", "binary", checks, None)
        if t == "NLA_NESTED":
            return ("ok", "nest", {}, None)
        return ("unsupported", t, {}, None)
    m = re.match(r"^(NLA_POLICY_\w+)\s*\((.*)\)$", val)
    if not m:
        return ("unsupported", val, {}, None)
    form, args = m.group(1), split_top(m.group(2))
    if form in ("NLA_POLICY_NESTED", "NLA_POLICY_NESTED_ARRAY"):
        return ("ok", "nest", {}, args[0])
    if form == "NLA_POLICY_EXACT_LEN":
        return ("ok", "binary", {"exact-len": ev(args[0])}, None)
    if form == "NLA_POLICY_MIN_LEN":
        return ("ok", "binary", {"min-len": ev(args[0])}, None)
    if form == "NLA_POLICY_MAX_LEN":
        return ("ok", "binary", {"max-len": ev(args[0])}, None)
    t = args[0]
    binary = t == "NLA_BINARY"
    if not binary and t not in NLA_SCALAR:
        return ("unsupported", val, {}, None)
    typ = "binary" if binary else NLA_SCALAR[t]
    lo, hi = ("min-len", "max-len") if binary else ("min", "max")
    if form == "NLA_POLICY_MIN":
        return ("ok", typ, {lo: ev(args[1])}, None)
    if form == "NLA_POLICY_MAX":
        return ("ok", typ, {hi: ev(args[1])}, None)
    if form == "NLA_POLICY_RANGE":
        return ("ok", typ, {lo: ev(args[1]), hi: ev(args[2])}, None)
    if form in ("NLA_POLICY_FULL_RANGE", "NLA_POLICY_FULL_RANGE_SIGNED"):
        r = ranges.get(args[1].lstrip("&").strip())
        if r is None:
            errs.append(f"{where}: range {args[1]} not found")
            return ("ok", typ, {}, None)
        return ("ok", typ, {k: ev(v) for k, v in r.items()}, None)
    if form == "NLA_POLICY_MASK":
        return ("ok", typ, {"flags-mask": ev(args[1])}, None)
    return ("unsupported", val, {}, None)


def normalise(typ, checks):
    """Drop the bounds a type has anyway (min 0 of a u32...)."""
    c = {k: v for k, v in checks.items() if v is not None}
    if typ in INT_TYPES:
        lo, hi = INT_TYPES[typ]
        if c.get("min") == lo:
            del c["min"]
        if c.get("max") == hi:
            del c["max"]
    return c


def check_policies(sp, pols, ranges, vals, errs):
    set_of_policy = {}
    for pname, (size, _) in pols.items():
        m = re.match(r"^(\w+)\s*\+\s*1$", size)
        s = [s for s in sp.sets.values() if m and s["_max"] == m.group(1)]
        if not s:
            errs.append(f"kmod: policy {pname}[{size}] matches no attribute set of the spec")
            continue
        set_of_policy[pname] = s[0]["name"]
    readonly = re.compile(r"\bread only\b", re.I)
    in_requests = set()
    for o in sp.ops:
        for mode in ("do", "dump"):
            for n in o.get(mode, {}).get("request", {}).get("attributes", []):
                in_requests.add((o.get("attribute-set"), n))
    for pname, (_, entries) in pols.items():
        sname = set_of_policy.get(pname)
        if sname is None:
            continue
        s = sp.sets[sname]
        byc = {a["_c"]: a for a in s["attributes"]}
        covered = set()
        for cname, val, f in entries:
            where = f"{f}: {pname}[{cname}]"
            a = byc.get(cname)
            if a is None:
                errs.append(f"{where}: not an attribute of spec set {sname}")
                continue
            covered.add(cname)
            kind, typ, checks, nested = policy_to_expect(val, ranges, vals, errs, where)
            sa = f"spec {sname}.{a['name']}"
            if kind == "unsupported":
                errs.append(f"{where}: policy form '{val}' not understood by nlspec-check")
                continue
            if kind == "reject":
                if a.get("checks"):
                    errs.append(f"{where}: NLA_REJECT (read only) but {sa} has checks")
                if not readonly.search(a.get("doc", "") + s.get("doc", "")):
                    errs.append(f"{where}: NLA_REJECT but {sa} does not say 'Read only'")
                if (sname, a["name"]) in in_requests:
                    errs.append(f"{where}: NLA_REJECT but {sa} is in a request")
                if a["type"] == "nest":
                    nset = sp.sets.get(a.get("nested-attributes"))
                    nset and nset.setdefault("_rejected_by", []).append(where)
                continue
            if readonly.search(a.get("doc", "")):
                errs.append(f"{where}: accepted in requests but {sa} says 'Read only'")
            if typ != a["type"]:
                errs.append(f"{where}: type {typ}, {sa} is {a['type']}")
                continue
            want = {}
            for k, v in (a.get("checks") or {}).items():
                if k == "flags-mask":
                    want[k] = sp.defs.get(v, {}).get("_mask")
                elif k == "unterminated-ok":
                    want[k] = v
                else:
                    want[k] = sp.limit(v)
            if a.get("struct") and "exact-len" not in want:
                want["exact-len"] = sp.struct_size(a["struct"])
            got, want = normalise(typ, checks), normalise(typ, want)
            if got != want:
                errs.append(f"{where}: checks {fmt(got)}, {sa} has {fmt(want)}")
            if typ == "nest":
                nset = a.get("nested-attributes")
                if nested is None:
                    errs.append(f"{where}: nest without a policy, {sa} nests {nset}")
                elif set_of_policy.get(nested) != nset:
                    errs.append(f"{where}: nests {nested} (set "
                                f"{set_of_policy.get(nested)}), {sa} nests {nset}")
        for a in s["attributes"]:
            if a["_c"] not in covered and a["type"] not in ("unused", "pad"):
                errs.append(f"kmod: {pname} has no entry for {a['_c']} (spec {sname}."
                            f"{a['name']}): strict parsing rejects it; NLA_REJECT says "
                            f"so explicitly")
    for s in sp.sets.values():
        if s["name"] not in set_of_policy.values() and not s.get("_rejected_by") and \
                any(a.get("nested-attributes") == s["name"]
                    for t in sp.sets.values() for a in t["attributes"]):
            errs.append(f"kmod: no policy parses set {s['name']} and no NLA_REJECT "
                        f"keeps it out of requests")
    return set_of_policy


def fmt(d):
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(d.items())) + "}" if d else "none"


PUT_TYPES = {"u8": "u8", "u16": "u16", "u32": "u32", "u64_64bit": "u64", "s8": "s8",
             "s16": "s16", "s32": "s32", "s64_64bit": "s64", "string": "string",
             "flag": "flag", "in_addr": "binary", "in6_addr": "binary", "be16": "u16",
             "be32": "u32", "net16": "u16", "net32": "u32", "uint": "uint", "sint": "sint"}


def check_kernel(sp, set_of_policy, ops, family, mcgrps, puts, cmd_uses, vals,
                 defines, funcs, errs):
    y = sp.y
    top = {o.get("attribute-set") for o in sp.ops}
    if family.get("name") not in (f'"{y["name"]}"', c_upper(y.get("c-family-name", ""))):
        errs.append(f"kmod: family .name = {family.get('name')}, spec name {y['name']}")
    if vals.get(family.get("version", "1")) != y.get("version", 1):
        errs.append(f"kmod: family .version = {family.get('version')}, spec {y.get('version', 1)}")
    pol = family.get("policy")
    if pol:
        if y.get("kernel-policy") != "global":
            errs.append(f"kmod: family has a global .policy, spec kernel-policy is "
                        f"{y.get('kernel-policy', 'split')}")
        if {set_of_policy.get(pol)} != top:
            errs.append(f"kmod: family .policy {pol} is set {set_of_policy.get(pol)}, "
                        f"operations use {top}")
        mx = family.get("maxattr")
        if len(top) == 1 and mx != sp.sets[next(iter(top))]["_max"]:
            errs.append(f"kmod: family .maxattr = {mx}")
    kops = {o.get("cmd"): o for o in ops}
    kernel_ops = dict(kops)
    perm = {"GENL_ADMIN_PERM": "admin-perm", "GENL_UNS_ADMIN_PERM": "uns-admin-perm"}
    for o in sp.ops:
        k = kops.pop(o["_c"], None)
        if "event" in o:
            if k:
                errs.append(f"kmod: {o['_c']} is a spec event but has a genl_ops entry")
            if o["_c"] not in cmd_uses:
                errs.append(f"kmod: event {o['_c']} is never used in kmod/")
            continue
        if k is None:
            errs.append(f"kmod: {o['_c']} (spec {o['name']}) has no genl_ops entry")
            continue
        for mode, fn in (("do", "doit"), ("dump", "dumpit")):
            if (mode in o) != (fn in k):
                errs.append(f"kmod: {o['_c']}: .{fn} {'present' if fn in k else 'absent'}"
                            f", spec {'has' if mode in o else 'lacks'} {mode}")
        pre = o.get("dump", {}).get("pre")
        if (pre or "").replace("-", "_") != k.get("start", ""):
            errs.append(f"kmod: {o['_c']}: .start = {k.get('start')}, spec dump pre {pre}")
        flags = sorted(perm.get(f.strip(), f.strip()) for f in
                       k.get("flags", "").split("|") if f.strip())
        if flags != sorted(o.get("flags", [])):
            errs.append(f"kmod: {o['_c']}: .flags {flags}, spec {o.get('flags', [])}")
    for c in kops:
        errs.append(f"kmod: genl_ops entry {c} is not a spec operation")
    for o in sp.ops:
        aset = sp.sets[o["attribute-set"]]
        names = {a["_c"]: a["name"] for a in aset["attributes"]}
        k = kernel_ops.get(o["_c"], {})
        if "event" in o:
            starts = [(f, "event", o["event"]) for f, body in funcs.items()
                      if re.search(rf"\b{o['_c']}\b", body)]
        else:
            k = kernel_ops.get(o["_c"], {})
            starts = [(k[fn], mode, o[mode].get("reply", {}))
                      for mode, fn in (("do", "doit"), ("dump", "dumpit"))
                      if mode in o and fn in k]
        for mode, fn in (("do", "doit"), ("dump", "dumpit")):
            if "event" in o or mode not in o or fn not in k:
                continue
            hs = [k[fn]] + ([k["start"]] if mode == "dump" and "start" in k else [])
            got = {names[c] for c in read_attrs(funcs, hs, set(names))}
            want = set(o[mode].get("request", {}).get("attributes", []))
            if got - want:
                errs.append(f"kmod: {'/'.join(hs)} ({o['_c']} {mode}) reads "
                            f"{sorted(got - want)}, not in the spec's {o['name']} {mode} request")
            if want - got:
                errs.append(f"kmod: {'/'.join(hs)} ({o['_c']} {mode}) never reads "
                            f"{sorted(want - got)}, listed in the spec's {o['name']} {mode} "
                            f"request")
        for f, what, lst in starts:
            got = sorted(names[c] for c in sent_attrs(funcs, f, set(names)))
            want = sorted(lst.get("attributes", []))
            extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            part = "event" if what == "event" else f"{what} reply"
            if extra:
                errs.append(f"kmod: {f} ({o['_c']} {what}) sends {extra}, not in the spec's "
                            f"{o['name']} {part}")
            if missing:
                errs.append(f"kmod: {f} ({o['_c']} {what}) never sends {missing}, listed in "
                            f"the spec's {o['name']} {part}")
    knames = [defines.get(g, g).strip('"') for g in mcgrps]
    if knames != [g["name"] for g in sp.mcgrps]:
        errs.append(f"kmod: multicast groups {knames}, spec {[g['name'] for g in sp.mcgrps]}")
    for fn, cname, where in puts:
        a = sp.set_by_cname.get(cname)
        if a is None:
            if not cname.startswith("NTM_CMD_") and cname in vals:
                errs.append(f"{where}: {fn}({cname}) is not a spec attribute")
            continue
        if fn.startswith("nla_nest_start"):
            t = "nest"
        elif fn == "nla_put":
            t = "binary"
        else:
            t = PUT_TYPES.get(fn[len("nla_put_"):])
        if t is None:
            errs.append(f"{where}: {fn} not understood by nlspec-check")
        elif t != a["type"]:
            errs.append(f"{where}: {fn}({cname}) writes {t}, spec {a['_set']}."
                        f"{a['name']} is {a['type']}")


_YAML_CACHE = {}
_MEMO = {}


def memo(fn, arg):
    """fn(arg) once per argument: the self-test checks many trees that
    differ in one file.  Callers do not modify the results."""
    if (fn, arg) not in _MEMO:
        _MEMO[(fn, arg)] = fn(arg)
    return _MEMO[(fn, arg)]


def load_yaml(path):
    """libyaml's loader when there is one (ten times faster); the self-test
    loads the same texts again and again, so parse each text once."""
    with open(path) as fh:
        text = fh.read()
    if text not in _YAML_CACHE:
        _YAML_CACHE[text] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader",
                                                           yaml.SafeLoader))
    return copy.deepcopy(_YAML_CACHE[text])


def check(root, force_mini=False):
    errs = []
    with open(os.path.join(root, SPEC)) as fh:
        if not fh.readline().startswith("# SPDX-License-Identifier: "):
            errs.append(f"spec: the first line of {SPEC} must be its SPDX tag (YNL "
                        f"tools refuse the spec without it)")
    y, schema = load_yaml(os.path.join(root, SPEC)), load_yaml(os.path.join(root, SCHEMA))
    how = validate_schema(y, schema, errs, force_mini)
    if errs:
        return errs, how
    sp = Spec(y, errs)
    spec_consistency(sp, errs)
    with open(os.path.join(root, HEADER)) as fh:
        enums, defines, structs = memo(parse_header, fh.read())
    files = []
    kdir = os.path.join(root, KMOD)
    for n in sorted(os.listdir(kdir)):
        if n.endswith(".c") and not n.endswith(".mod.c"):
            with open(os.path.join(kdir, n)) as fh:
                files.append((f"kmod/{n}", fh.read()))
    files = tuple(files)
    pols, ranges = memo(parse_policies, files)
    for f, text in files:
        for name in re.findall(r"nla_policy\s+(\w+)\s*\[[^\]]*\]\s*=", strip_comments(text)):
            if name not in pols:
                errs.append(f"{f}: policy {name} not understood by nlspec-check "
                            f"(write it like those in kmod/nl_common.c)")
    ops, family, mcgrps, puts, cmd_uses = memo(parse_kernel_family, files)
    exprs = set()
    for members in enums.values():
        exprs |= set(members)
    for n, v in defines.items():
        if not v.startswith('"') and not n.startswith("_UAPI_"):
            exprs.add(n)
    for _, entries in pols.values():
        for _, val, _ in entries:
            m = re.match(r"^(NLA_POLICY_\w+)\s*\((.*)\)$", val)
            if m and "NESTED" not in m.group(1) and "FULL_RANGE" not in m.group(1):
                exprs |= {a for a in split_top(m.group(2)) if not a.startswith("NLA_")}
            for ln in re.findall(r"\.len\s*=\s*([^,}]+)", val):
                exprs.add(ln.strip())
    for r in ranges.values():
        exprs |= set(r.values())
    exprs.add(family.get("version", "1"))
    sp.enums_cmds = lambda: sp.enums[sp.y["operations"].get("enum-name",
                                                            f"{y['name']}_commands")][1]
    got, cerr = gcc_eval(root, sorted(exprs), {k: [m[0] for m in v] for k, v in structs.items()})
    if got is None:
        errs.append("gcc: the value program does not compile (an expression of a policy "
                    "is not a uapi/libc name?):\n" + cerr)
        return errs, how
    vals, layout = got
    check_header(sp, enums, defines, structs, vals, layout, errs)
    sop = check_policies(sp, pols, ranges, vals, errs)
    check_kernel(sp, sop, ops, family, mcgrps, puts, cmd_uses, vals, defines,
                 memo(parse_functions, files), errs)
    return errs, how


# ---- self-test --------------------------------------------------------------

MUTATIONS = [
    # (file, old, new, expected substring of an error)
    (SPEC, "          max: acquire-qlen-max", "          max: relay-idle-max",
     "NTM_A_ACQUIRE_QLEN"),
    (SPEC, "      - { name: drop-ecn, type: u64 }\n", "", "NTM_STAT_A_DROP_ECN"),
    (SPEC, "    entries: [ on-rx, now ]", "    entries: [ now, on-rx ]", "NTM_TAKEOVER_NOW"),
    (SPEC, "      name: vip4\n        type: binary", "      name: vip4\n        type: u32",
     "NTM_TUNNEL_A_VIP4"),
    (SPEC, "          attributes: [ ifindex, ifname, relay, flush ]",
     "          attributes: [ ifindex, ifname, relay, flush, num-relays ]", "in a request"),
    (SPEC, "    name: ts-max\n    value: 8", "    name: ts-max\n    value: 9", "NTM_TS_MAX"),
    (SPEC, "        pre: ntm-dump-start\n", "", ".start"),
    (SPEC, "      name: events\n", "      name: event\n", "multicast"),
    (SPEC, "        name: counter\n        type: u64\n        byte-order: big-endian",
     "        name: counter\n        type: u64", "ntm_data_hdr.counter"),
    (SPEC, "kernel-policy: global", "kernel-policy: global\nbogus: 1", "bogus"),
    (SPEC, "    type: flags\n    name: tunnel-flags", "    type: flgs\n    name: tunnel-flags",
     "schema"),
    (HEADER, "\tNTM_A_MAX_TUNNELS,\t/* u32, 0..NTM_TUNNEL_MAX_LIMIT */\n",
     "\tNTM_A_MAX_TUNNELS,\t/* u32, 0..NTM_TUNNEL_MAX_LIMIT */\n\tNTM_A_NEW_THING,\n",
     "NTM_A_NEW_THING"),
    (HEADER, "#define NTM_REPLAY_WINDOW\t2048", "#define NTM_REPLAY_WINDOW\t4096",
     "NTM_REPLAY_WINDOW"),
    (HEADER, "\t__u8 reserved[2];", "\t__u8 reserved[3];", "ntm_prefix"),
    (HEADER, "\tNTM_CIPHER_CHACHA20_POLY1305,\t/* rfc7539(chacha20,poly1305); 32 */\n",
     "\tNTM_CIPHER_CHACHA20_POLY1305,\t/* rfc7539(chacha20,poly1305); 32 */\n"
     "\tNTM_CIPHER_AEGIS,\n", "NTM_CIPHER_AEGIS"),
    ("kmod/nl_common.c", "[NTM_TUNNEL_A_LOCAL_INDEX] = NLA_POLICY_MIN(NLA_U32, 1)",
     "[NTM_TUNNEL_A_LOCAL_INDEX] = NLA_POLICY_MIN(NLA_U16, 1)", "NTM_TUNNEL_A_LOCAL_INDEX"),
    ("kmod/nl_common.c", "[NTM_RELAY_LEG_A_SIDE] = NLA_POLICY_RANGE(NLA_U8, 1, 2)",
     "[NTM_RELAY_LEG_A_SIDE] = NLA_POLICY_RANGE(NLA_U8, 1, 3)", "NTM_RELAY_LEG_A_SIDE"),
    ("kmod/nl_common.c", ".max = NTM_RELAY_IDLE_MAX,", ".max = NTM_RELAY_IDLE_MAX - 1,",
     "NTM_RELAY_A_IDLE_TIMEOUT"),
    ("kmod/nl_common.c", "[NTM_A_FWMARK] = { .type = NLA_U32 },",
     "[NTM_A_FWMARK] = { .type = NLA_REJECT },", "NTM_A_FWMARK"),
    ("kmod/nl_common.c", "[NTM_A_FLUSH] = { .type = NLA_FLAG },\n", "", "NTM_A_FLUSH"),
    ("kmod/nl_common.c", "[NTM_TUNNEL_A_REMOTE_TS] = NLA_POLICY_NESTED(ntm_ts_policy)",
     "[NTM_TUNNEL_A_REMOTE_TS] = NLA_POLICY_NESTED(ntm_relay_policy)",
     "NTM_TUNNEL_A_REMOTE_TS"),
    ("kmod/nl_common.c", "[NTM_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, __NTM_DEV_F_ALL)",
     "[NTM_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, NTM_DEV_F_NO_ROAMING)", "NTM_A_FLAGS"),
    ("kmod/nl_common.c", "[NTM_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 }",
     "[NTM_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ }", "NTM_A_IFNAME"),
    ("kmod/nl_common.c", "ntm_ts_policy[NTM_TS_A_MAX + 1] = {", "ntm_ts_policy[] = {",
     "policy ntm_ts_policy not understood"),
    ("kmod/netlink.c", "nla_put_u16(skb, NTM_A_PORT4, port4)",
     "nla_put_u32(skb, NTM_A_PORT4, port4)", "NTM_A_PORT4"),
    ("kmod/netlink.c", "\t\t.dumpit = ntm_dump_relays,\n", "", "NTM_CMD_GET_RELAY"),
    ("kmod/netlink.c", "ntm_put_relay(msg, info) || nla_put_u32(msg, NTM_A_REASON, reason)",
     "ntm_put_relay(msg, info)", "NTM_CMD_EVENT_RELAY_EXPIRED"),
    (SPEC, "            - port6\n            - stats\n", "            - stats\n",
     "ntm_get_device (NTM_CMD_GET_DEVICE do)"),
    ("kmod/netlink.c", "\t    nla_put_u32(skb, NTM_A_NUM_RELAYS, nd->num_relays) ||\n", "",
     "NTM_CMD_GET_DEVICE do"),
    (SPEC, "          attributes: [ ifindex, ifname, tunnel, flush ]",
     "          attributes: [ ifindex, ifname, tunnel ]", "NTM_CMD_DEL_TUNNEL do) reads"),
    (SPEC, "        attributes: [ ifindex, inner-dst, inner-src ]",
     "        attributes: [ ifindex, inner-dst ]", "NTM_CMD_EVENT_ACQUIRE"),
    ("kmod/netlink.c", "\t\t.cmd = NTM_CMD_DEL_RELAY,\n\t\t.doit = ntm_del_relay,\n"
     "\t\t.flags = GENL_UNS_ADMIN_PERM,",
     "\t\t.cmd = NTM_CMD_DEL_RELAY,\n\t\t.doit = ntm_del_relay,\n\t\t.flags = GENL_ADMIN_PERM,",
     "NTM_CMD_DEL_RELAY"),
]


def self_test(root):
    import unittest

    class T(unittest.TestCase):
        def copy(self, d):
            for rel in (SPEC, SCHEMA, HEADER):
                os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
                shutil.copy(os.path.join(root, rel), os.path.join(d, rel))
            shutil.copytree(os.path.join(root, KMOD), os.path.join(d, KMOD),
                            ignore=shutil.ignore_patterns("*.o", "*.ko", ".*", "*.mod*"))

        def test_clean_tree_passes(self):
            for mini in (False, True):
                errs, _ = check(root, force_mini=mini)
                self.assertEqual(errs, [])

        def mutate(self, mutation):
            rel, old, new, want = mutation
            with tempfile.TemporaryDirectory() as d:
                self.copy(d)
                p = os.path.join(d, rel)
                with open(p) as fh:
                    text = fh.read()
                if old not in text:
                    return None
                with open(p, "w") as fh:
                    fh.write(text.replace(old, new, 1))
                return [check(d, force_mini=mini)[0]
                        for mini in ((False, True) if "schema" in want else (False,))]

        def test_mutations_are_caught(self):
            # in threads: the time is in gcc and file copies, not in Python
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(self.mutate, MUTATIONS))
            for (rel, _, new, want), res in zip(MUTATIONS, results):
                with self.subTest(file=rel, new=new.strip()[:60]):
                    self.assertIsNotNone(res, "mutation no longer applies: update the test")
                    for errs in res:
                        self.assertTrue(any(want in e for e in errs),
                                        f"no error mentions {want!r}: {errs}")

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(T)
    return unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful()


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    if "--self-test" in sys.argv[1:]:
        sys.exit(0 if self_test(root) else 1)
    errs, how = check(root)
    for e in errs:
        print(f"nlspec-check: {e}", file=sys.stderr)
    if errs:
        print(f"nlspec-check: FAIL: {len(errs)} mismatch(es) between {SPEC}, {HEADER} "
              f"and kmod/", file=sys.stderr)
        sys.exit(1)
    print(f"nlspec-check: {SPEC} matches {HEADER} and the kmod/ policies "
          f"(schema: {how})")


if __name__ == "__main__":
    main()
