#!/usr/bin/env python3
"""Reads scripts/deploy/kubernetes/connreset-daemonset.yaml (python3-yaml) and checks its shape; prints
what the shell test needs as KEY=VALUE lines: CAPS (setpriv names), MOUNTS (container paths of
host mounts), ARGS (the container's args, one string).

    manifest.py MANIFEST
"""
import shlex
import sys

import yaml


def fail(msg):
    sys.exit(f"{sys.argv[1]}: {msg}")


docs = [d for d in yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")) if d]
ds = [d for d in docs if d.get("kind") == "DaemonSet"]
if len(ds) != 1:
    fail(f"expected one DaemonSet, found {len(ds)}")
ds = ds[0]
spec = ds["spec"]["template"]["spec"]
meta = ds["spec"]["template"]["metadata"]
if ds["spec"]["selector"]["matchLabels"].items() > meta["labels"].items():
    fail("selector does not match the pod labels")
(c,) = spec["containers"]
sc = c["securityContext"]
if sc.get("privileged"):
    fail("privileged is the documented fallback, not the default")
if sc["capabilities"].get("drop") != ["ALL"]:
    fail("capabilities must drop ALL and add back only what is needed")
if sc.get("allowPrivilegeEscalation") is not False:
    fail("allowPrivilegeEscalation must be false")
if spec.get("hostNetwork") or spec.get("hostPID"):
    fail("hostNetwork/hostPID: not needed by connreset record, so not granted")

env = {e["name"]: e for e in c.get("env", [])}
if env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
    fail("NODE_NAME must come from the downward API (fieldRef spec.nodeName)")

args = [str(a) for a in c["args"]]
if args[0] != "record" or "--json" not in args:
    fail("the container must run `record ... --json` (journals, and JSON lines on stdout)")
port = args[args.index("--metrics") + 1].rsplit(":", 1)[1]
ann = meta.get("annotations", {})
if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != port:
    fail(f"prometheus.io/scrape must be \"true\" and prometheus.io/port \"{port}\" (--metrics)")
if port not in [str(p["containerPort"]) for p in c.get("ports", [])]:
    fail(f"containerPort {port} (--metrics) is not declared")
out = args[args.index("--out") + 1]
vols = {v["name"]: v for v in spec["volumes"]}
mounts = []
for m in c["volumeMounts"]:
    v = vols[m["name"]]
    if "hostPath" not in v:
        fail(f"volume {m['name']}: only hostPath volumes are expected")
    if m["mountPath"] != out and not m.get("readOnly"):
        fail(f"{m['mountPath']}: host mounts other than the journal directory must be readOnly")
    mounts.append(m["mountPath"])
if out not in mounts:
    fail(f"the journal directory {out} must be a hostPath mount (journals outlive the pod)")
for flag in ("--max-size", "--max-files"):
    if flag not in args:
        fail(f"{flag}: journals must rotate")

print("CAPS=" + ",".join(c.lower() for c in sc["capabilities"]["add"]))
# linux-5.10.patch.yaml beside the manifest: the capability list for 5.10 nodes
patch = yaml.safe_load(open(sys.argv[1].rsplit("/", 1)[0] + "/linux-5.10.patch.yaml", encoding="utf-8"))
(pc,) = patch["spec"]["template"]["spec"]["containers"]
if pc["name"] != c["name"]:
    fail("linux-5.10.patch.yaml must patch the container by its name")
print("CAPS_510=" + ",".join(x.lower() for x in pc["securityContext"]["capabilities"]["add"]))
print("MOUNTS=" + shlex.quote(" ".join(mounts)))
print("ARGS=" + shlex.quote(" ".join(args)))
