#!/usr/bin/env python3
"""Write a minimal source profile: the host's features that some profile
of the catalog directory lists (as present or unknown).

usage: restrict_source.py HOST_PROFILE_JSON CATALOG_DIR > source.json
"""
import glob
import json
import os
import sys


def main():
    with open(sys.argv[1]) as f:
        host = json.load(f)
    expressible = set()
    for path in glob.glob(os.path.join(sys.argv[2], "*.json")):
        with open(path) as f:
            p = json.load(f)
        expressible.update(p.get("features", []))
        expressible.update(p.get("unknown", []))
    feats = sorted(set(host.get("features", [])) & expressible)
    json.dump({"name": "%s (restricted to %s)" % (host.get("name", "host"),
                                                  os.path.basename(sys.argv[2].rstrip("/"))),
               "features": feats}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
