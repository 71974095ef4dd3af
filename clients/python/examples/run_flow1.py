#!/usr/bin/env python3
"""Runs upstream's flow1 on Lume's distributed services and prints the file rep save_text_file returned.

    LUME_BROKER=amqp://guest:guest@127.0.0.1:5672/ python3 run_flow1.py [TEXT1 TEXT2 FILENAME]

Needs a Scheduler, a worker serving flow1 and a FileService on that broker. Exits 0 when the run completed,
1 when it failed, 2 when it was rejected.
"""

import json
import sys
from pathlib import Path

# Run from a checkout without installing anything: lume_client is the folder next to this one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lume_client import FlowFailed, Lume, RunRejected  # noqa: E402


def main(argv: list) -> int:
    text1, text2, filename = (argv + ["Hello", "World", "hello.txt"][len(argv):])[:3]
    parameters = {"text1": text1, "text2": text2, "filename": filename, "filesystem_identifier": "local"}
    with Lume() as lume:
        try:
            file_rep = lume.run_and_return("flow1", parameters, "save_text_file", timeout=120)
        except RunRejected as rejected:
            print("\n".join(rejected.problems), file=sys.stderr)
            return 2
        except FlowFailed as failed:
            print(failed, file=sys.stderr)
            return 1
    print(json.dumps(file_rep))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
