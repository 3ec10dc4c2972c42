#!/usr/bin/env python3
"""Reads and damages PERM images for the tests (format: runtime/image_format.h).

  image.py nblocks FILE          number of blocks
  image.py flip FILE header      flip a byte inside the header
  image.py flip FILE block:N     flip a byte inside block N
  image.py flip FILE data        flip a byte inside the first extent with bytes
"""
import struct
import sys

HDR = struct.Struct("<8sIIII" + "Q" * 10 + "16s64sII")
BLOCK = struct.Struct("<IIQQQQ")


def header(buf):
    f = HDR.unpack_from(buf, 0)
    h = {"magic": f[0], "generation": f[5], "region_base": f[7],
         "data_offset": f[10], "nblocks": f[17]}
    h["blocks"] = [BLOCK.unpack_from(buf, HDR.size + i * BLOCK.size)
                   for i in range(h["nblocks"])]
    return h


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x5A]))


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        buf = f.read(4096)
    h = header(buf)
    if cmd == "nblocks":
        print(h["nblocks"])
    elif cmd == "flip":
        what = sys.argv[3]
        if what == "header":
            flip(path, 40)  # the generation field
        elif what.startswith("block:"):
            t, fl, off, length, addr, csum = h["blocks"][int(what[6:])]
            flip(path, off + length // 2)
        elif what == "data":
            ext = [b for b in h["blocks"] if b[0] == 5][0]
            with open(path, "rb") as f:
                f.seek(ext[2])
                count, size = struct.unpack("<II", f.read(8))
                for _ in range(count):
                    entry = f.read(size)
                    if size == 24:  # format 1: a sparse mirror
                        addr, length, csum = struct.unpack("<QQQ", entry)
                        off = h["data_offset"] + addr - h["region_base"]
                        break
                    addr, length, off, csum, flags = struct.unpack(
                        "<QQQQI", entry[:36])
                    if not flags & 1:  # not a zero extent: it has bytes
                        break
            flip(path, off + length // 2)
        else:
            sys.exit("bad target " + what)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
