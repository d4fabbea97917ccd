#!/usr/bin/env python3
"""Turn a saved `migratable observe --json` into a requirements file.

usage: oracle_req.py OBSERVE.json OUT.json

Writes {"required_features": features_required}: the features of the code
the oracle saw execute (already intersected with this host, like a scan),
in the minimal form `migratable check --requirements` reads.
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    src, dst = sys.argv[1:]
    with open(src) as f:
        doc = json.load(f)
    with open(dst, "w") as f:
        json.dump({"required_features": doc["features_required"]}, f)


if __name__ == "__main__":
    main()
