# binary-facts.py FILE: the facts of a perm info --binary --json output, one
# per line, after checking every field's type (the schema of README.PERM).
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
prog, img = doc["program"], doc["image"]
assert set(doc) == {"program", "image", "build", "globals", "counts",
                    "verdict", "reasons"}, sorted(doc)
assert isinstance(prog["path"], str) and prog["type"] in ("pie", "exec")
assert prog["build_id"] is None or int(prog["build_id"], 16) >= 0
assert prog["registry"] in ("plugin", "raw", "plugin+raw", "none")
assert isinstance(img["generation"], int) and isinstance(img["path"], str)
statuses = ("match", "new", "missing", "type_changed", "runtime", "other")
counts = dict.fromkeys(statuses, 0)
print("program", prog["type"], prog["registry"], "build", doc["build"])
print("image generation", img["generation"],
      "same-id" if img["build_id"] == prog["build_id"] else "other-id")
for g in doc["globals"]:
    assert g["status"] in statuses
    counts[g["status"]] += 1
    sides = []
    for side in ("image", "program"):
        v = g[side]
        if v is None:
            sides.append(f"{side} -")
            continue
        assert isinstance(v["size"], int) and v["type_hash"].startswith("0x")
        if side == "image":
            assert v["address"].startswith("0x") and isinstance(v["flags"], list)
        sides.append(f"{side} {v['size']}")
    print("global", g["name"], g["status"], *sides)
assert doc["counts"] == counts, (doc["counts"], counts)
assert all(isinstance(r, str) for r in doc["reasons"])
assert (doc["verdict"] == "refused") == (len(doc["reasons"]) > 0)
print("verdict", doc["verdict"], "reasons", len(doc["reasons"]))
