"""`python -m lowdim.report [PATH]`: write the JSON Schema of claims.json to PATH (default:
print it). The published copy is docs/claims.schema.json; tests/test_schema.py checks that it
equals what report.publish.json_schema() makes now.
"""

import sys

from .publish import schema_text, write_json_schema


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: python -m lowdim.report [PATH]  (the JSON Schema of claims.json)",
              file=sys.stderr)
        return 2
    if argv:
        write_json_schema(argv[0])
    else:
        sys.stdout.write(schema_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
