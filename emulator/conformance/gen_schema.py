"""Regenerates emulator/src/schema.json: the request schema of every action the emulator serves.

The emulator validates requests against it (unknown, missing and mistyped parameters) and uses it
to type GET query parameters. The source of truth is the official `tccli` package, whose
`services/<service>/<version>/api.json` marks required parameters (the SDK's models.py does not).

    pip download tccli==3.1.189.1 --no-deps -d /tmp/tccli && cd /tmp/tccli && unzip -q -o tccli-*.whl
    python emulator/conformance/gen_schema.py /tmp/tccli/tccli/services > emulator/src/schema.json
"""
import glob
import json
import sys

PRIMITIVES = {"string", "int64", "uint64", "bool", "float", "double"}

ACTIONS = {
    "clb": [
        "CreateListener", "DeleteListener", "DeleteLoadBalancerListeners", "DescribeListeners",
        "RegisterTargets", "DeregisterTargets", "BatchRegisterTargets", "BatchDeregisterTargets",
        "DescribeTargets", "DescribeLoadBalancers", "CreateLoadBalancer", "DeleteLoadBalancer",
        "DescribeQuota", "DescribeTaskStatus", "ModifyListener",
    ],
    "vpc": [
        "CreateNatGatewayDestinationIpPortTranslationNatRule",
        "DeleteNatGatewayDestinationIpPortTranslationNatRule",
        "ModifyNatGatewayDestinationIpPortTranslationNatRule",
        "DescribeNatGatewayDestinationIpPortTranslationNatRules", "DescribeNatGateways",
        "AllocateAddresses", "AssociateAddress", "DisassociateAddress", "ReleaseAddresses",
        "DescribeAddresses", "DescribeAddressQuota", "DescribeTaskResult",
        "DescribeNetworkInterfaces", "ModifyAddressAttribute",
    ],
}


def field(member):
    """[name, kind, member, required]; kind is string/int/uint/bool/float/list/object."""
    kind, inner = member["type"], member.get("member", "")
    if kind == "int":
        kind = "uint" if inner == "uint64" else "int"
    if kind == "list":
        inner = {"int64": "int", "uint64": "uint", "double": "float"}.get(inner, inner)
    if kind not in ("list", "object"):
        inner = ""
    return [member["name"], kind, inner, bool(member.get("required"))]


def main(services_dir):
    out = {"services": {}, "actions": {}, "objects": {}}
    for service, actions in ACTIONS.items():
        (path,) = glob.glob(f"{services_dir}/{service}/v*/api.json")
        api = json.load(open(path))
        out["services"][service] = {"version": api["metadata"]["apiVersion"], "actions": actions}
        pending = []
        for action in actions:
            members = api["objects"][api["actions"][action]["input"]]["members"]
            out["actions"][action] = [field(m) for m in members]
            pending += members
        while pending:
            member = pending.pop()
            name = member.get("member")
            if member["type"] in ("list", "object") and name not in PRIMITIVES:
                key = f"{service}:{name}"
                if key not in out["objects"]:
                    members = api["objects"][name]["members"]
                    out["objects"][key] = [field(m) for m in members]
                    pending += members
    # Object references inside fields are qualified with their service.
    for service, actions in ACTIONS.items():
        for fields in [out["actions"][a] for a in actions] + [
            v for k, v in out["objects"].items() if k.startswith(service + ":")
        ]:
            for f in fields:
                if f[2] and f[2] not in ("string", "int", "uint", "bool", "float"):
                    f[2] = f"{service}:{f[2]}"
    # One field per line keeps the file short and its diffs readable.
    lines = ["{", f' "services": {json.dumps(out["services"], sort_keys=True)},']
    for section in ("actions", "objects"):
        lines.append(f' "{section}": {{')
        entries = sorted(out[section].items())
        for i, (name, fields) in enumerate(entries):
            body = ",\n".join(f"   {json.dumps(f)}" for f in fields)
            tail = "," if i + 1 < len(entries) else ""
            lines.append(f'  "{name}": [\n{body}\n  ]{tail}' if fields else f'  "{name}": []{tail}')
        lines.append(" }," if section == "actions" else " }")
    lines.append("}")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
