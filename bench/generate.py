#!/usr/bin/env python3
"""Writes the benchmark's synthetic GeoJSON workloads, deterministically.

    bench/generate.py points N OUT      N points with 3 properties
    bench/generate.py polygons N OUT    N small polygons, 2% self-intersecting

The same N gives the same bytes on every machine and every run: a seeded
Mersenne Twister (whose random() sequence Python keeps stable across
versions) and fixed-precision formatting. The first K features of
`points N` are exactly `points K` (the linearity check compares 100k and
1M points of one stream), and likewise for polygons.

Points: properties {"name": string, "value": number, "kind": string}, no
feature id; positions have five decimals (~1 m), spread over the whole
lon/lat range (~145 bytes per feature, 145 MB for 1M).

Polygons: octagon-ish rings (9 positions, closed) of ~0.01 degrees around
uniformly spread centres, a numeric feature id and 3 properties {"name",
"value", "category"}. Every 50th feature (index % 50 == 7, so exactly 2%)
has two neighbouring vertices swapped, which makes its ring cross itself
(ST_IsValid: "Self-intersection"). ~360 bytes per feature, 36 MB for 100k.

Output: one FeatureCollection, one feature per line. Written to OUT.tmp
and renamed, so an interrupted run leaves no half file.
"""
import math
import os
import random
import sys

SEED_POINTS = 20240601
SEED_POLYGONS = 20240602
CATEGORIES = ["home", "shop", "work", "park", "lake", "wood", "farm", "road"]


def point_features(n):
    rng = random.Random(SEED_POINTS)
    for i in range(n):
        lon = rng.uniform(-180.0, 180.0)
        lat = rng.uniform(-85.0, 85.0)
        value = rng.uniform(0.0, 10000.0)
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        yield (
            '{"type":"Feature","properties":{"name":"p%d","value":%.2f,"kind":"%s"},'
            '"geometry":{"type":"Point","coordinates":[%.5f,%.5f]}}' % (i + 1, value, category, lon, lat)
        )


def polygon_features(n):
    rng = random.Random(SEED_POLYGONS)
    vertices = 8
    for i in range(n):
        cx = rng.uniform(-179.0, 179.0)
        cy = rng.uniform(-80.0, 80.0)
        radius = rng.uniform(0.002, 0.01)
        ring = []
        for k in range(vertices):
            angle = 2.0 * math.pi * k / vertices + rng.uniform(-0.2, 0.2)
            r = radius * rng.uniform(0.7, 1.0)
            ring.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
        value = rng.uniform(0.0, 10000.0)
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        if i % 50 == 7:
            # Swap two neighbouring vertices: the ring crosses itself.
            ring[2], ring[3] = ring[3], ring[2]
        ring.append(ring[0])
        coords = ",".join("[%.6f,%.6f]" % p for p in ring)
        yield (
            '{"type":"Feature","id":%d,"properties":{"name":"parcel %d","value":%.3f,"category":"%s"},'
            '"geometry":{"type":"Polygon","coordinates":[[%s]]}}' % (i + 1, i + 1, value, category, coords)
        )


def write(features, out):
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write('{"type":"FeatureCollection","features":[\n')
        first = True
        for feature in features:
            if not first:
                f.write(",\n")
            f.write(feature)
            first = False
        f.write("\n]}\n")
    os.replace(tmp, out)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("points", "polygons"):
        sys.stderr.write(__doc__)
        return 2
    kind, n, out = argv[1], int(argv[2]), argv[3]
    write(point_features(n) if kind == "points" else polygon_features(n), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
