"""`python -m lowdim.report [PATH]`: write the JSON Schema of claims.json to PATH (default:
print it). The published copy is docs/claims.schema.json; tests/test_schema.py checks that it
equals what report.schema.json_schema() makes now.
"""

import json
import sys

from .schema import atomic_write, json_schema


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: python -m lowdim.report [PATH]  (the JSON Schema of claims.json)",
              file=sys.stderr)
        return 2
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if argv:
        atomic_write(argv[0], text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
