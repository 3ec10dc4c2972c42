#!/usr/bin/env python3
"""pack.py OUT IMAGE: IMAGE and the images it depends on (a delta's parent
is named in its header), in the fuzz target's input format:

    b"PERMFUZZ", then per file a little-endian uint32 length and the bytes

newest first (Inputs/image_fuzz.c writes member k+1 under the parent name
member k gives).  An image that is no delta packs as one member."""
import os
import struct
import sys

FLAGS_AT = 20  # perm_image_header_t.flags (image_fuzz.c asserts both)
PARENT_AT = 2792  # perm_image_header_t.parent_name
F_DELTA = 0x2


def main():
    out, path = sys.argv[1], sys.argv[2]
    members = []
    while path is not None and len(members) < 8:
        with open(path, "rb") as f:
            data = f.read()
        members.append(data)
        (flags,) = struct.unpack_from("<I", data, FLAGS_AT)
        if not flags & F_DELTA:
            break
        name = data[PARENT_AT:PARENT_AT + 256].split(b"\0")[0].decode()
        path = os.path.join(os.path.dirname(path), name)
    with open(out, "wb") as f:
        f.write(b"PERMFUZZ")
        for m in members:
            f.write(struct.pack("<I", len(m)))
            f.write(m)
    print(f"{out}: {len(members)} images, {sum(map(len, members))} bytes")


if __name__ == "__main__":
    main()
