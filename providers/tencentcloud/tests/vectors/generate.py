#!/usr/bin/env python3
"""Generates the test vectors of dac-tencentcloud from the official Tencent Cloud Python SDK.

    .venv/bin/python providers/tencentcloud/tests/vectors/generate.py   (venv: hack/venv.sh)

Writes, next to this script:

- signing.json: requests built and signed by the SDK's own client code
  (AbstractClient._build_req_inter, with time.time patched to a fixed timestamp). The Rust
  test `tests/signing_vectors.rs` must reproduce every Authorization header and every other
  header the SDK sets (except X-TC-RequestClient, which names the SDK itself).
- models.json: for every request, response and nested model our client types, a sample object
  with every field the SDK model has, filled with values of the right type. The Rust test
  `tests/model_fields.rs` reads each sample into our type and writes it back: a field we lack,
  misspell or mistype makes the round trip differ.

Both files are committed; re-run this after upgrading the SDK (hack/requirements.txt).
"""
import json
import os
import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from unittest import mock

import tencentcloud
from tencentcloud.clb.v20180317 import clb_client
from tencentcloud.clb.v20180317 import models as clb_models
from tencentcloud.common import abstract_client, credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vpc.v20170312 import models as vpc_models
from tencentcloud.vpc.v20170312 import vpc_client

HERE = os.path.dirname(os.path.abspath(__file__))

# Made-up credentials: vectors must never contain real ones.
SECRET_ID = "AKIDvectorsExampleSecretId0000000000"
SECRET_KEY = "vectorsExampleSecretKey000000000"
TOKEN = "vectors-example-session-token/with+symbols=="

CLIENTS = {"clb": clb_client.ClbClient, "vpc": vpc_client.VpcClient}


@contextmanager
def compact_json():
    """Makes the SDK serialise its JSON body the way serde_json does (no spaces, raw UTF-8),
    so the signed bytes are exactly what our client sends for the same typed request."""
    original = json.dumps

    def dumps(obj, *args, **kwargs):
        return original(obj, ensure_ascii=False, separators=(",", ":"))

    with mock.patch.object(abstract_client.json, "dumps", dumps):
        yield


def build(service, action, params, *, timestamp, region="ap-guangzhou", method="POST",
          endpoint=None, scheme="https", token=None, language="zh-CN", compact=False):
    http = HttpProfile(reqMethod=method, endpoint=endpoint, protocol=scheme)
    profile = ClientProfile(httpProfile=http, language=language)
    cred = credential.Credential(SECRET_ID, SECRET_KEY, token)
    client = CLIENTS[service](cred, region, profile)
    req = RequestInternal(client._get_endpoint(), method, "/", header={})
    with mock.patch("time.time", return_value=float(timestamp)):
        if compact:
            with compact_json():
                client._build_req_inter(action, params, req)
        else:
            client._build_req_inter(action, params, req)
    headers = [[k, v] for k, v in req.header.items() if k != "X-TC-RequestClient"]
    return {
        "service": service,
        "version": client._apiVersion,
        "action": action,
        "region": region,
        "method": method,
        "host": req.header["Host"],
        "content_type": req.header["Content-Type"],
        "query": req.data if method == "GET" else "",
        "payload": "" if method == "GET" else req.data,
        "timestamp": timestamp,
        "secret_id": SECRET_ID,
        "secret_key": SECRET_KEY,
        "token": token,
        "language": language,
        "params": params,
        "headers": headers,
        "authorization": req.header["Authorization"],
    }


def signing_vectors():
    vectors = []

    def add(name, description, *, typed, **kwargs):
        v = build(**kwargs)
        v = {"name": name, "description": description, "typed": typed, **v}
        vectors.append(v)
        return v

    create_listener = {
        "LoadBalancerId": "lb-demo0001",
        "Ports": [30001, 30002],
        "Protocol": "TCP",
        "ListenerNames": ["dac-game-0", "dac-game-1"],
        "HealthCheck": {"HealthSwitch": 1, "TimeOut": 2, "IntervalTime": 5},
        "SessionExpireTime": 30,
        "Scheduler": "WRR",
    }
    add("clb-create-listener-sdk-json",
        "POST with the SDK's default JSON (ASCII escapes, spaces after separators)",
        typed=False, service="clb", action="CreateListener", params=create_listener,
        timestamp=1700000000)
    add("clb-create-listener-unicode",
        "POST whose raw UTF-8 body (Chinese, accents) is byte for byte what serde_json writes",
        typed=True, service="clb", action="CreateListener", compact=True,
        params={**create_listener, "ListenerNames": ["房间-一号", "Überprüfung é"]},
        timestamp=1700000000)
    add("clb-describe-load-balancers-get",
        "GET: parameters flattened into the query, form-encoded, empty payload; keys sorted "
        "per object so serde_json's map order gives the same query",
        typed=True, service="clb", action="DescribeLoadBalancers", method="GET",
        params={
            "Filters": [{"Name": "tag:owner", "Values": ["room service", "未命名/x&y=z"]}],
            "Limit": 20,
            "LoadBalancerIds": ["lb-demo0001", "lb-demo0002"],
            "Offset": 0,
        },
        timestamp=1700000123)
    rule = {
        "IpProtocol": "UDP",
        "PublicIpAddress": "203.0.113.10",
        "PublicPort": 40001,
        "PrivateIpAddress": "10.0.1.23",
        "PrivatePort": 7777,
        "Description": "dac/默认/room-1",
    }
    dnat = {"NatGatewayId": "nat-demo0001", "DestinationIpPortTranslationNatRules": [rule]}
    with_token = add("vpc-create-dnat-session-token",
                     "temporary credentials: X-TC-Token is sent but not signed",
                     typed=True, service="vpc",
                     action="CreateNatGatewayDestinationIpPortTranslationNatRule",
                     params=dnat, token=TOKEN, compact=True, timestamp=1700000456)
    without = build("vpc", "CreateNatGatewayDestinationIpPortTranslationNatRule", dnat,
                    compact=True, timestamp=1700000456)
    assert with_token["authorization"] == without["authorization"], "the token must not be signed"
    assert ["X-TC-Token", TOKEN] in with_token["headers"]
    add("clb-task-status-emulator-endpoint",
        "endpoint override with a port: the signed host is host:port as sent",
        typed=True, service="clb", action="DescribeTaskStatus",
        params={"TaskId": "3f2c6a1e-0000-4000-8000-000000000001"}, endpoint="127.0.0.1:9000",
        scheme="http", language="en-US", compact=True, timestamp=1700000789)
    add("vpc-task-result-before-midnight",
        "the credential scope date is the UTC date of the timestamp (23:59:59 UTC); integer TaskId",
        typed=True, service="vpc", action="DescribeTaskResult", params={"TaskId": 1234567},
        compact=True, timestamp=int(datetime(2023, 12, 31, 23, 59, 59,
                                             tzinfo=timezone.utc).timestamp()))
    add("clb-describe-quota-no-region",
        "an empty region: X-TC-Region is left out; an empty JSON object as payload",
        typed=True, service="clb", action="DescribeQuota", params={}, region="", compact=True,
        timestamp=1700001000)
    return vectors


# The actions our client types; nested models are collected from their fields.
ACTIONS = {
    "clb": ["CreateListener", "DeleteListener", "DeleteLoadBalancerListeners",
            "DescribeListeners", "RegisterTargets", "DeregisterTargets", "BatchRegisterTargets",
            "BatchDeregisterTargets", "DescribeTargets", "DescribeLoadBalancers",
            "CreateLoadBalancer", "DeleteLoadBalancer", "DescribeQuota", "DescribeTaskStatus",
            "ModifyListener"],
    "vpc": ["CreateNatGatewayDestinationIpPortTranslationNatRule",
            "DeleteNatGatewayDestinationIpPortTranslationNatRule",
            "ModifyNatGatewayDestinationIpPortTranslationNatRule",
            "DescribeNatGatewayDestinationIpPortTranslationNatRules", "DescribeNatGateways",
            "AllocateAddresses", "AssociateAddress", "DisassociateAddress", "ReleaseAddresses",
            "DescribeAddresses", "DescribeAddressQuota", "DescribeTaskResult",
            "DescribeNetworkInterfaces", "ModifyAddressAttribute"],
}
MODULES = {"clb": clb_models, "vpc": vpc_models}


def model_fields(module, name):
    """(field, type) pairs from the model's docstring, e.g. ("Ports", "list of int")."""
    doc = getattr(module, name).__init__.__doc__ or ""
    return [(f, t.strip()) for f, t in re.findall(r":type (\w+): (.+)", doc)]


def nested_name(module, type_text):
    match = re.search(r"models\.(\w+)`", type_text)
    if match:
        return match.group(1)
    bare = type_text[len("list of "):] if type_text.startswith("list of ") else type_text
    return bare if hasattr(module, bare) and bare[0].isupper() else None


def sample(module, name, seen):
    """An object with every field of the model set to a value of its type."""
    out = {}
    for i, (field, type_text) in enumerate(model_fields(module, name)):
        is_list = type_text.startswith("list of ")
        base = type_text[len("list of "):] if is_list else type_text
        nested = nested_name(module, type_text)
        if nested:
            seen.append(nested)
            value = sample(module, nested, seen)
        elif base == "str":
            value = f"{field}-value"
        elif base == "int":
            value = 100 + i
        elif base == "bool":
            value = True
        elif base == "float":
            value = 1.5
        else:
            raise SystemExit(f"{name}.{field}: unknown type {type_text!r}")
        out[field] = [value] if is_list else value
    return out


def model_samples():
    models = {}
    for service, actions in ACTIONS.items():
        module = MODULES[service]
        queue = [a + suffix for a in actions for suffix in ("Request", "Response")]
        while queue:
            name = queue.pop(0)
            key = f"{service}.{name}"
            if key in models:
                continue
            found = []
            models[key] = sample(module, name, found)
            # The SDK itself must accept the sample: it warns on fields its model lacks.
            instance = getattr(module, name)()
            instance._deserialize(json.loads(json.dumps(models[key])))
            queue.extend(found)
    return dict(sorted(models.items()))


def main():
    import warnings
    warnings.simplefilter("error")
    meta = {
        "generator": "providers/tencentcloud/tests/vectors/generate.py",
        "sdk": f"tencentcloud-sdk-python {tencentcloud.__version__}",
    }
    outputs = {
        "signing.json": {**meta, "vectors": signing_vectors()},
        "models.json": {**meta, "models": model_samples()},
    }
    for file_name, content in outputs.items():
        path = os.path.join(HERE, file_name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(content, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
