#!/usr/bin/env python3
"""Damages a PERM image where 'perm info --json' says its parts are.

  damage.py JSON header            flip a byte of the header's generation
  damage.py JSON block TYPE        flip a byte in the middle of a block;
                                   TYPE is a block type, or state:SECTION
  damage.py JSON data              flip the first non-zero byte of the
                                   region data (holes read as zeros, so it
                                   is inside an extent)

JSON is the output of 'perm info --json IMAGE'; the image is its "image".
Finding the offsets through the tool's own JSON also tests that JSON.
"""
import json
import sys

GENERATION_OFFSET = 24  # magic[8], 4 x uint32, then generation (image_format.h)


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x01]))
    print(f"flipped byte {off} of {path}")


def main():
    with open(sys.argv[1]) as f:
        info = json.load(f)
    path, what = info["image"], sys.argv[2]
    if what == "header":
        flip(path, GENERATION_OFFSET)
    elif what == "block":
        want = sys.argv[3]
        for b in info["blocks"]:
            name = b["type"] + (":" + b["section"] if "section" in b else "")
            if name == want:
                flip(path, b["offset"] + b["length"] // 2)
                return
        sys.exit(f"damage.py: no block {want}")
    elif what == "data":
        start, top = info["data"]["offset"], info["region"]["top"]
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(top)
        for i, byte in enumerate(data):
            if byte:
                flip(path, start + i)
                return
        sys.exit("damage.py: the region data is all holes")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
