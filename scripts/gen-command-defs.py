#!/usr/bin/env python3
"""Regenerates shared/commands/defs/*.json: the command metadata (arity, flags,
key specs, ACL categories, tips, docs) that tidekv reports through COMMAND INFO
and COMMAND DOCS, taken from a running redis-server 7 so that these replies
match Redis byte for byte.

Usage: redis-server --port 6390 --save '' & scripts/gen-command-defs.py 6390

Handlers live in TypeScript (shared/commands/*.ts); these files are data only.
"""
import json, subprocess, sys, collections

port = sys.argv[1] if len(sys.argv) > 1 else "6379"

def cli(*args):
    out = subprocess.check_output(["redis-cli", "-p", port, "-3", "--json", *args])
    return json.loads(out)

infos = cli("COMMAND", "INFO")
docs = cli("COMMAND", "DOCS")

def info_to_dict(info):
    name, arity, flags, first, last, step, cats, tips, key_specs, subs = info
    d = {"arity": arity, "flags": flags, "first_key": first, "last_key": last, "step": step,
         "acl_categories": cats, "tips": tips, "key_specs": key_specs}
    if subs:
        d["subcommands"] = {s[0].split("|", 1)[1]: info_to_dict(s) for s in subs}
    return d

groups = collections.defaultdict(dict)
for info in infos:
    name = info[0]
    doc = docs.get(name, {})
    entry = info_to_dict(info)
    sub_docs = doc.pop("subcommands", {})
    entry["docs"] = doc
    for sub_name, sub in entry.get("subcommands", {}).items():
        sub["docs"] = sub_docs.get(f"{name}|{sub_name}", {})
    groups[doc.get("group", "server")][name] = entry

for group, cmds in groups.items():
    with open(f"shared/commands/defs/{group}.json", "w") as f:
        json.dump(dict(sorted(cmds.items())), f, indent=1, sort_keys=False)
        f.write("\n")
print({g: len(c) for g, c in groups.items()})
