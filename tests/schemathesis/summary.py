"""One line about a schemathesis run, from its NDJSON report: operations selected and
tested, test cases run, failed checks, and the seed that reproduces it.

Usage: summary.py NAME REPORT.ndjson
"""

import collections
import json
import sys

name, path = sys.argv[1:3]
selected = total = 0
seed = None
tested = set()
cases = 0
failures = collections.Counter()
with open(path) as report:
    for line in report:
        event = json.loads(line)
        kind, body = next(iter(event.items()))
        if kind == "Initialize":
            seed = body.get("seed")
        elif kind == "LoadingFinished":
            operations = body["statistic"]["operations"]
            selected, total = operations["selected"], operations["total"]
        elif kind == "ScenarioFinished":
            recorder = body.get("recorder") or {}
            interactions = recorder.get("interactions") or {}
            for case_id in recorder.get("cases") or {}:
                if case_id in interactions:
                    cases += 1
                    tested.add(recorder.get("label"))
            for checks in (recorder.get("checks") or {}).values():
                for check in checks:
                    if check.get("status") == "failure":
                        failures[(recorder.get("label"), check.get("name"))] += 1

# Stateful scenarios chain operations under one label ("Stateful tests"): their cases
# count, the label is not an operation.
tested = {label for label in tested if label and label.split(" ", 1)[0].isupper() and " /" in label}
print(f"{name}: {len(tested)} operations tested ({selected} selected of {total}), {cases} cases, "
      f"{sum(failures.values())} failed checks in {len(failures)} operation/check pairs (seed {seed})")
for (label, check), count in sorted(failures.items()):
    print(f"  FAILED {label}: {check} x{count}")
