#!/usr/bin/env python3
"""Write a minimal source profile: the host's features that some profile
of the catalog directory lists (as present or unknown).

usage: restrict_source.py HOST_PROFILE_JSON CATALOG_DIR [INFO_OUT MASK_VERDICTS]
       > source.json

With INFO_OUT, also write {"kept", "dropped", "dropped_in_mask"} there:
MASK_VERDICTS is `migratable check --policy criu-like --source HOST
--target EMPTY --format json` against a profile with no features, whose
"missing" is therefore every host feature inside CRIU's ins mask.
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
    have = set(host.get("features", []))
    feats = sorted(have & expressible)
    json.dump({"name": "%s (restricted to %s)" % (host.get("name", "host"),
                                                  os.path.basename(sys.argv[2].rstrip("/"))),
               "features": feats}, sys.stdout, indent=1)
    print()
    if len(sys.argv) > 4:
        with open(sys.argv[4]) as f:
            in_mask = set(json.load(f)["targets"][0]["missing"])
        dropped = sorted(have - expressible)
        with open(sys.argv[3], "w") as f:
            json.dump({"kept": feats, "dropped": dropped,
                       "dropped_in_mask": [x for x in dropped if x in in_mask]}, f)


if __name__ == "__main__":
    main()
