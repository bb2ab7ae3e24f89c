"""Write the score record's JSON Schema to harness/schemas/record.schema.json.

`python -m scripts.export_schemas` (from the checkout). Run after changing a model in harness/records.py (or a config model it embeds);
tests/test_records.py fails while the committed file is stale.
"""

import json

from harness.records import SCHEMA_FILE, json_schema

if __name__ == "__main__":
    SCHEMA_FILE.parent.mkdir(exist_ok=True)
    SCHEMA_FILE.write_text(json.dumps(json_schema(), indent=2) + "\n")
    print(f"wrote {SCHEMA_FILE}")
