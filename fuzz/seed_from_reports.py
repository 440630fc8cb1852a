#!/usr/bin/env python3
"""Seeds fuzz corpora from saved mxtriage JSON reports (e.g. `mxtriage check
<scenario>.lab.test --format json` against `mxtriage lab`).

usage: seed_from_reports.py OUT_DIR REPORT.json...

Writes OUT_DIR/<target>/<report>-<n>: the report itself (session), each probe's
server lines (smtp_reply), the MTA-STS TXT record and policy (mta_sts), and the
TLS-RPT, SPF and DMARC records (policy_records).
"""
import json
import os
import sys


def write(out, target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def dig(value, *keys):
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def main():
    out, reports = sys.argv[1], sys.argv[2:]
    for path in reports:
        base = os.path.basename(path).removesuffix(".json")
        with open(path, "rb") as f:
            raw = f.read()
        write(out, "session", base, raw)
        report = json.loads(raw)
        for n, probe in enumerate(report.get("probes", [])):
            lines = [t["text"] for t in probe.get("transcript", []) if t.get("direction") == "server"]
            if lines:
                write(out, "smtp_reply", f"{base}-{n}", "\r\n".join(lines) + "\r\n")
        recipient = report.get("recipient") or {}
        sts = recipient.get("mta_sts") or {}
        txt = dig(sts, "txt", "outcome", "record") or ""
        policy = dig(sts, "fetch", "lines") or []
        if txt or policy:
            write(out, "mta_sts", base, txt + "\n\n" + "\n".join(policy) + "\n")
        records = [dig(recipient, key, "outcome", "record") for key in ("tls_rpt", "spf", "dmarc")]
        records = [r for r in records if r]
        if records:
            write(out, "policy_records", base, "\n".join(records) + "\n")


if __name__ == "__main__":
    main()
