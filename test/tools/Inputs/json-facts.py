#!/usr/bin/env python3
"""Prints the facts of a 'perm info --json' document one per line, for
FileCheck: a test fails here if a key is missing or has the wrong type."""
import json
import re
import sys

with open(sys.argv[1]) as f:
    info = json.load(f)
hexstr = re.compile(r"^0x[0-9a-f]+$")
assert isinstance(info["generation"], int)
assert hexstr.match(info["region"]["base"])
print("generation", info["generation"])
for o in info["objects"]:
    assert hexstr.match(o["load_address"])
    if "main" in o["flags"]:
        print("main", o["name"], "build-id", len(o["build_id"]), "hex digits")
    if "runtime" in o["flags"]:
        print("runtime", o["name"])
for g in info["globals"]:
    assert hexstr.match(g["address"]) and hexstr.match(g["type_hash"])
    print("global", g["name"], "size", g["size"], "flags", ",".join(g["flags"]))
names = []
for b in info["blocks"]:
    assert hexstr.match(b["checksum"])
    assert isinstance(b["offset"], int) and isinstance(b["length"], int)
    names.append(b["type"] + (":" + b["section"] if "section" in b else ""))
print("blocks", ",".join(names))
