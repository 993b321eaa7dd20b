#!/usr/bin/env python3
"""Measures the plot height of TensorBoard's Distributions chart, in pixels.

The learning diagnosis (host-sim/src/summary/diagnosis.rs, CHART_HEIGHT_PX) turns a percentile
line's move, as a fraction of the chart's range, into pixels. This script measures what that
height is in the TensorBoard the user runs:

    apt-get install -y chromium            # any headless Chrome/Chromium
    pip install tensorboard==2.21.0 numpy
    python3 tools/chart_height.py RUN_DIR TAG

It starts `tensorboard --logdir RUN_DIR` on 127.0.0.1, takes a 1400x1000 screenshot of the
Distributions tab filtered to TAG with headless Chromium (device scale 1), and prints, for each
chart of the first column, the rows from the plot's top frame line to its x-axis line. Measured
with TensorBoard 2.21.0 and Chromium 156: 142 px (rows 225-367).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

PORT = 6199


def png_pixels(path):
    """RGB pixels of an 8-bit RGB or RGBA PNG, decoded with zlib and numpy alone."""
    import zlib
    import struct

    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, _, colour = struct.unpack(">IIBB", chunk[:10])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    bpp = {2: 3, 6: 4}[colour]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * bpp)
    out = np.zeros((height, width * bpp), np.int32)
    prev = np.zeros(width * bpp, np.int32)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        cur = np.zeros_like(line)
        for x in range(width * bpp):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 255
        out[y], prev = cur, cur
    return out.reshape(height, width, bpp)[:, :, :3]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run_dir, tag = sys.argv[1], sys.argv[2]
    chrome = shutil.which("chromium") or shutil.which("google-chrome")
    if not chrome:
        sys.exit("no chromium on PATH: apt-get install -y chromium")
    tb = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", run_dir,
         "--host", "127.0.0.1", "--port", str(PORT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/data/runs", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        shot = os.path.join(tempfile.mkdtemp(), "shot.png")
        subprocess.run(
            [chrome, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--force-device-scale-factor=1", "--window-size=1400,1000",
             "--virtual-time-budget=20000", f"--screenshot={shot}",
             f"http://127.0.0.1:{PORT}/#distributions&tagFilter={tag}"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    finally:
        tb.terminate()
        tb.wait()
    img = png_pixels(shot)
    # The first column of charts sits at x 440-700 at this window size. A chart's plot area is
    # framed by a 2-px light grey line on top (rgb 230) and a 2-px darker one at the bottom
    # (rgb 217, the x-axis); other full-width grey rows (toolbar shadow, card edges, grid lines)
    # are single rows or other greys.
    band = img[:, 440:700]
    flat = band.max(axis=2) == band.min(axis=2)
    grey = band[:, :, 0]
    def double_rows(value):
        hit = [(flat[y] & (grey[y] == value)).mean() > 0.8 for y in range(len(grey))]
        return [y for y in range(len(hit) - 1) if hit[y] and hit[y + 1]]
    tops, bottoms = double_rows(230), double_rows(217)
    heights = []
    for top in tops:
        below = [b for b in bottoms if b > top]
        if below:
            heights.append((top, below[0] + 1))
    if not heights:
        sys.exit(f"no chart frame found in {shot}")
    for top, bottom in heights:
        print(f"plot area: rows {top}-{bottom}, {bottom - top} px")
    print(f"(screenshot: {shot})")

if __name__ == "__main__":
    main()
