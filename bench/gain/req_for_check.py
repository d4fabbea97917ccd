#!/usr/bin/env python3
"""Copy a requirements file for `migratable check --requirements`.

usage: req_for_check.py IN.json OUT.json
       req_for_check.py --oracle OBSERVE.json OUT.json

Default form: a saved `migratable scan --json`.  `scan` writes evidence for
instructions it could not classify with the feature name "?", and the
requirements reader refuses that name (src/analysis/scan_result.c), so a
saved full scan of e.g. libcrypto cannot be read back.  Evidence does not
enter a verdict (only "required_features" does), so those entries are
dropped here; their number goes to stderr.

--oracle: write {"required_features": features_required} from a saved
`migratable observe --json`: the features of the code the oracle saw
execute (already intersected with this host, like a scan).
"""
import json
import sys


def main():
    args = sys.argv[1:]
    oracle = args[:1] == ["--oracle"]
    if oracle:
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    src, dst = args
    with open(src) as f:
        doc = json.load(f)
    if oracle:
        out = {"required_features": doc["features_required"]}
    else:
        out = dict(doc)
        ev = doc.get("evidence", [])
        kept = [e for e in ev if e.get("feature") != "?"]
        if len(kept) != len(ev):
            print(f"gain: {src}: dropped {len(ev) - len(kept)} evidence entries with "
                  f"feature \"?\" (unclassified instructions; the reader refuses them)",
                  file=sys.stderr)
        out["evidence"] = kept
    with open(dst, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
