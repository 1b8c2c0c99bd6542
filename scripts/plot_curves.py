#!/usr/bin/python3
"""Plot latency against achieved bandwidth (or any two columns) for one or more
sweep CSV files on one PNG.

Runs on the distribution python3 (Debian python3-matplotlib), hence the shebang.
Columns are found by header name, so the HBM sweeps (`npuvp bench hbm --sweep`)
and other load sweeps with the same column names plot alike.

    scripts/plot_curves.py hbm2.csv hbm2e.csv -o hbm.png
    scripts/plot_curves.py noc.csv --x achieved_gbps --y p99_latency_ns -o noc.png
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_columns(path, x, y):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        for col in (x, y):
            if col not in fields:
                raise SystemExit(f"{path}: no column '{col}' (columns: {', '.join(fields)})")
        xs, ys = [], []
        for line, row in enumerate(reader, start=2):
            try:
                xs.append(float(row[x]))
                ys.append(float(row[y]))
            except (TypeError, ValueError):
                raise SystemExit(f"{path}:{line}: '{row[x]}' / '{row[y]}' is not a number")
    return xs, ys


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", nargs="+", help="sweep CSV files, one curve each (label: file name)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.add_argument("--x", default="achieved_gbps", help="x column (default achieved_gbps)")
    p.add_argument("--y", default="mean_latency_ns", help="y column (default mean_latency_ns)")
    p.add_argument("--log-y", action="store_true", help="logarithmic y axis")
    p.add_argument("--title", default=None, help="plot title")
    a = p.parse_args(argv)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for path in a.csv:
        xs, ys = read_columns(path, a.x, a.y)
        ax.plot(xs, ys, marker="o", markersize=3, label=os.path.splitext(os.path.basename(path))[0])
    ax.set_xlabel(a.x)
    ax.set_ylabel(a.y)
    if a.log_y:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if a.title:
        ax.set_title(a.title)
    fig.tight_layout()
    # Write through a temporary file and a rename, like every npuvp output.
    tmp = a.output + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
