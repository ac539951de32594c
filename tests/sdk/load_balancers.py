"""Prints, as JSON, the CLBs and listeners the cloud holds, read through the official Tencent Cloud
Python SDK (tencentcloud-sdk-python), so the end-to-end tests compare what OpenKruise Game reports
with the cloud as another client sees it, not as our own client does.

    python tests/sdk/load_balancers.py --endpoint http://127.0.0.1:PORT --region ap-chengdu lb-xxx lb-yyy

Output: [{"loadBalancerId", "vips": [...], "domain", "listeners": [{"listenerId", "name", "port",
"protocol", "targets": ["ip:port", ...]}]}], one entry per CLB asked for, in that order.
"""
import argparse
import json
import os
import sys

# Only the given endpoint is contacted: no proxy from the environment may intervene.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)

from tencentcloud.clb.v20180317 import clb_client, models  # noqa: E402
from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402


def call(client, action, **params):
    request = getattr(models, action + "Request")()
    request.from_json_string(json.dumps(params))
    return json.loads(getattr(client, action)(request).to_json_string())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True, help="http://host:port of the emulator")
    parser.add_argument("--region", required=True)
    parser.add_argument("--secret-id", default=os.environ.get("TENCENTCLOUD_SECRET_ID", "AKIDEMULATOR"))
    parser.add_argument("--secret-key", default=os.environ.get("TENCENTCLOUD_SECRET_KEY", "emulator-secret-key"))
    parser.add_argument("lb_ids", nargs="+")
    args = parser.parse_args()

    protocol, _, host = args.endpoint.partition("://")
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=host, protocol=protocol, reqMethod="POST"))
    client = clb_client.ClbClient(credential.Credential(args.secret_id, args.secret_key), args.region, profile)

    found = call(client, "DescribeLoadBalancers", LoadBalancerIds=args.lb_ids, Limit=100)
    by_id = {lb["LoadBalancerId"]: lb for lb in found.get("LoadBalancerSet") or []}
    out = []
    for lb_id in args.lb_ids:
        lb = by_id.get(lb_id)
        if lb is None:
            sys.exit(f"no CLB {lb_id} in {args.region}")
        listeners = call(client, "DescribeListeners", LoadBalancerId=lb_id).get("Listeners") or []
        targets = {}
        ids = [listener["ListenerId"] for listener in listeners]
        for start in range(0, len(ids), 20):
            backends = call(client, "DescribeTargets", LoadBalancerId=lb_id, ListenerIds=ids[start:start + 20])
            for backend in backends.get("Listeners") or []:
                targets[backend["ListenerId"]] = [
                    f"{ip}:{target.get('Port')}"
                    for target in backend.get("Targets") or []
                    for ip in target.get("PrivateIpAddresses") or []
                ]
        out.append({
            "loadBalancerId": lb_id,
            "vips": lb.get("LoadBalancerVips") or [],
            "domain": lb.get("LoadBalancerDomain") or "",
            "listeners": [
                {
                    "listenerId": listener["ListenerId"],
                    "name": listener.get("ListenerName") or "",
                    "port": listener.get("Port"),
                    "protocol": listener.get("Protocol"),
                    "targets": targets.get(listener["ListenerId"], []),
                }
                for listener in listeners
            ],
        })
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
