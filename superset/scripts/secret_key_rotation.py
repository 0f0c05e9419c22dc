"""Re-seal under a new Superset secret key what was sealed under the previous one, inside
Superset's own environment (`rempart secrets rotate superset_secret_key` runs it, Superset
stopped):

* Superset's encrypted fields (database connection secrets...), by Superset's own
  SecretsMigrator, as `superset re-encrypt-secrets` does, without the key on a command line;
* every account's second-factor secret (sealed under a key derived from the secret key).

Recovery codes are kept as keyed hashes only, so they cannot be carried over: they are
invalidated, and the accounts that had some are named (an administrator may reset their
second factor, which issues new ones at their next login).

The new key is the one Superset runs with (SUPERSET_SECRET_KEY_FILE); the previous one is
read from --previous-key-file. Prints a JSON summary.

Usage: secret_key_rotation.py --previous-key-file PATH --operator NAME
"""

import argparse
import json
import sys
from pathlib import Path

# Rempart's modules for Superset (superset/rempart_superset/) are one folder up: run by path,
# this script has only superset/scripts/ on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rempart_superset.audit.audit_trail import append_event
from superset.app import create_app


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--previous-key-file", type=Path, required=True)
    parser.add_argument("--operator", required=True)
    arguments = parser.parse_args()
    previous = arguments.previous_key_file.read_text(encoding="utf-8").strip()
    app = create_app()
    with app.app_context():
        from superset.utils.encrypt import SecretsMigrator

        SecretsMigrator(previous_secret_key=previous).run()
        security = app.appbuilder.sm
        resealed, codes_of = security.second_factor.reseal_from(previous)
        names = sorted(
            user.username
            for user_id in codes_of
            if (user := security.get_user_by_id(user_id)) is not None
        )
        summary = {"second_factors_resealed": resealed, "recovery_codes_invalidated_for": names}
        if not append_event("superset_secret_key_rotated", arguments.operator, summary):
            print("the rotation could not be written to the audit trail", file=sys.stderr)
            return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
