#!/usr/bin/env python3
"""Parses every .tf file of a directory (not its subdirectories) with
python-hcl2 (the parser checkov uses) and prints {"FILE.tf": {...}, ...} as
JSON, for the structure checks of tests/deploy.rs. Exits 1 on a parse error.

  deploy_hcl.py DIR
"""

import json
import os
import sys

import hcl2


def main():
    d = sys.argv[1]
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".tf"):
            with open(os.path.join(d, name), encoding="utf-8") as f:
                try:
                    out[name] = hcl2.load(f)
                except Exception as e:  # the parser raises several kinds
                    print("%s: %s" % (name, e), file=sys.stderr)
                    sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
