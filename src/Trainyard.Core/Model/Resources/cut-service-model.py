#!/usr/bin/env python3
"""Cuts a botocore service model (Apache-2.0) down to the operations Trainyard serves.

Keeps metadata, the named operations (input, output, errors) and every shape they reach; drops the
documentation. Run with Debian's botocore (python3-botocore 1.29) to regenerate the embedded models:

    python3 cut-service-model.py logs 2014-03-28 DescribeLogGroups DescribeLogStreams GetLogEvents FilterLogEvents > logs-api.json
    python3 cut-service-model.py cloudwatch 2010-08-01 GetMetricStatistics ListMetrics > cloudwatch-api.json
    python3 cut-service-model.py sts 2011-06-15 GetCallerIdentity > sts-api.json
"""
import json
import sys

import botocore

service, version, *operations = sys.argv[1:]
path = f"{botocore.__path__[0]}/data/{service}/{version}/service-2.json"
with open(path) as f:
    model = json.load(f)


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in ("documentation", "documentationUrl")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


shapes, todo = {}, []
for name in operations:
    op = model["operations"][name]
    for key in ("input", "output"):
        if key in op:
            todo.append(op[key]["shape"])
    todo += [e["shape"] for e in op.get("errors", [])]
while todo:
    name = todo.pop()
    if name in shapes:
        continue
    shape = model["shapes"][name]
    shapes[name] = strip(shape)
    for member in shape.get("members", {}).values():
        todo.append(member["shape"])
    for key in ("member", "key", "value"):
        if key in shape:
            todo.append(shape[key]["shape"])

out = {
    "_comment": f"botocore {botocore.__version__} data/{service}/{version}/service-2.json (Apache-2.0), cut down by cut-service-model.py",
    "version": model.get("version", "2.0"),
    "metadata": strip(model["metadata"]),
    "operations": {name: strip(model["operations"][name]) for name in operations},
    "shapes": dict(sorted(shapes.items())),
}
json.dump(out, sys.stdout, indent=1, sort_keys=False)
sys.stdout.write("\n")
