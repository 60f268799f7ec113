"""Reads the editor's screenshots (8-bit RGB PNG, as the editor writes them) for the e2e checks.

    import png_pixels
    width, height, pixel = png_pixels.load(path)   # pixel(x, y) -> (r, g, b)
"""
import struct
import zlib


def load(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour == 2, path + ": not 8-bit RGB"
        elif kind == b"IDAT":
            idat += body
    raw, rows, prev, i = zlib.decompress(idat), [], bytearray(width * 3), 0
    for _ in range(height):  # undo each row's filter (PNG spec, "Filter types")
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + width * 3])
        i += 1 + width * 3
        for x in range(width * 3):
            a = line[x - 3] if x >= 3 else 0
            b = prev[x]
            c = prev[x - 3] if x >= 3 else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, lambda x, y: tuple(rows[y][3 * x:3 * x + 3])
