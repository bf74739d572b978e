#!/usr/bin/env python3
"""Regenerates crates/auth/data/aws-managed-policies.tsv: every AWS managed
policy's name, path, default version, creation and update times (epoch
seconds) and default document (compact JSON), one per line, sorted by name.

The documents are AWS's published ones, as moto packages them
(moto/iam/aws_managed_policies.py, refreshed from IAM by moto's maintainers):

    pip download --no-deps -d /tmp/moto moto==5.2.5
    python3 scripts/aws-managed-policies.py /tmp/moto/moto-5.2.5-py3-none-any.whl
"""
import datetime
import json
import sys
import zipfile

wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as z:
    src = z.read("moto/iam/aws_managed_policies.py").decode()
ns = {}
exec(compile(src, "aws_managed_policies.py", "exec"), ns)
data = json.loads(ns["aws_managed_policies_data"])


def epoch(s):
    return int(datetime.datetime.fromisoformat(s).timestamp())


out = "crates/auth/data/aws-managed-policies.tsv"
with open(out, "w") as f:
    for name in sorted(data):
        p = data[name]
        doc = json.dumps(p["Document"], separators=(",", ":"), ensure_ascii=False)
        assert "\t" not in doc and "\n" not in doc, name
        f.write("\t".join([name, p["Path"], p["DefaultVersionId"],
                           str(epoch(p["CreateDate"])), str(epoch(p["UpdateDate"])), doc]) + "\n")
print(f"{len(data)} policies -> {out}")
