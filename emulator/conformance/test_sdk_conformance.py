"""Conformance of the emulator with the official Tencent Cloud Python SDK.

Starts the emulator binary (``EMULATOR_BIN``, else ``target/debug/tencentcloud-emulator``) on a
free loopback port and drives full scenarios through the SDK's clients and models. Warnings are
errors (pytest.ini), so a response field the SDK's models do not know fails the test.

    /work/main/.venv/bin/python -W error -m pytest emulator/conformance
"""
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest
import requests

# Only loopback is ever contacted: no proxy from the environment may intervene.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)

from tencentcloud.clb.v20180317 import clb_client  # noqa: E402
from tencentcloud.clb.v20180317 import models as clb_models  # noqa: E402
from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # noqa: E402
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.vpc.v20170312 import models as vpc_models  # noqa: E402
from tencentcloud.vpc.v20170312 import vpc_client  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "emulator.toml"
SECRET_ID = "AKIDEMULATOR"
SECRET_KEY = "emulator-secret-key"
REGION = "ap-guangzhou"
LB = "lb-demo0001"
NAT = "nat-demo0001"


class Emulator:
    """A running emulator process."""

    def __init__(self, extra_args=(), config=CONFIG):
        binary = os.environ.get("EMULATOR_BIN") or str(ROOT / "target" / "debug" / "tencentcloud-emulator")
        if not os.path.exists(binary):
            pytest.fail(f"{binary} not found: run `cargo build -p tencentcloud-emulator` first")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--config", str(config), *extra_args],
            stdout=subprocess.PIPE,
            text=True,
        )
        # The binary prints "listening on http://127.0.0.1:PORT" once it serves.
        line = self.proc.stdout.readline().strip()
        self.admin = requests.Session()
        self.admin.trust_env = False
        if not line.startswith("listening on http://"):
            self.stop()
            pytest.fail(f"emulator did not start: {line!r}")
        self.endpoint = line.removeprefix("listening on http://")

    def post(self, path, body=None):
        resp = self.admin.post(f"http://{self.endpoint}/_emulator/{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def state(self):
        return self.admin.get(f"http://{self.endpoint}/_emulator/state", timeout=10).json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.admin.close()


@pytest.fixture(scope="module")
def emulator():
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture(autouse=True)
def fresh(request):
    """Each test starts from the seeds, with short tasks."""
    if "emulator" in request.fixturenames:
        emu = request.getfixturevalue("emulator")
        emu.post("reset")
        # Long enough that checks made while a task runs cannot miss it on a loaded machine.
        emu.post("settings", {"task_latency_ms": 600, "batch_lock_ms": 300, "eip_task_latency_ms": 600})


def profile(endpoint, method="POST"):
    return ClientProfile(httpProfile=HttpProfile(endpoint=endpoint, protocol="http", reqMethod=method))


def clb(emu, secret_key=SECRET_KEY, method="POST", secret_id=SECRET_ID):
    return clb_client.ClbClient(credential.Credential(secret_id, secret_key), REGION, profile(emu.endpoint, method))


def vpc(emu, method="POST"):
    return vpc_client.VpcClient(credential.Credential(SECRET_ID, SECRET_KEY), REGION, profile(emu.endpoint, method))


def call(client, action, **params):
    """Calls `action` with a request model built from `params`; returns the response as a dict."""
    models = clb_models if isinstance(client, clb_client.ClbClient) else vpc_models
    req = getattr(models, action + "Request")()
    req.from_json_string(json.dumps(params))
    resp = getattr(client, action)(req)
    return json.loads(resp.to_json_string())


def error_code(client, action, **params):
    with pytest.raises(TencentCloudSDKException) as info:
        call(client, action, **params)
    return info.value.get_code()


def wait_clb_task(client, task_id):
    for _ in range(100):
        status = call(client, "DescribeTaskStatus", TaskId=task_id)["Status"]
        if status != 2:
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still running")


def wait_eip_task(client, task_id):
    for _ in range(100):
        result = call(client, "DescribeTaskResult", TaskId=int(task_id))["Result"]
        if result != "RUNNING":
            return result
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} still running")


def retry_busy(fn, *args, **kwargs):
    """Retries while the instance is locked, as a client must."""
    for _ in range(100):
        try:
            return fn(*args, **kwargs)
        except TencentCloudSDKException as e:
            if e.get_code() not in ("FailedOperation.ResourceInOperating", "RequestLimitExceeded"):
                raise
            time.sleep(0.1)
    raise AssertionError("instance stayed locked")


def unlocked_error_code(client, action, **params):
    """The error code of a call, once the instance is no longer locked."""
    for _ in range(100):
        code = error_code(client, action, **params)
        if code != "FailedOperation.ResourceInOperating":
            return code
        time.sleep(0.1)
    raise AssertionError("instance stayed locked")


def test_listeners_targets_and_tasks(emulator):
    c = clb(emulator)
    lbs = call(c, "DescribeLoadBalancers", LoadBalancerIds=[LB])["LoadBalancerSet"]
    assert lbs[0]["LoadBalancerType"] == "OPEN" and lbs[0]["Status"] == 1
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[30000, 30001], Protocol="TCP",
                   ListenerNames=["room-a", "room-b"], Scheduler="WRR",
                   HealthCheck={"HealthSwitch": 1, "TimeOut": 2, "IntervalTime": 5})
    ids = created["ListenerIds"]
    assert len(ids) == 2
    assert call(c, "DescribeTaskStatus", TaskId=created["RequestId"])["Status"] == 2
    assert wait_clb_task(c, created["RequestId"]) == 0
    listeners = call(c, "DescribeListeners", LoadBalancerId=LB)["Listeners"]
    assert [(l["Port"], l["ListenerName"]) for l in listeners] == [(30000, "room-a"), (30001, "room-b")]
    assert listeners[0]["HealthCheck"]["IntervalTime"] == 5

    batch = call(c, "BatchRegisterTargets", LoadBalancerId=LB, Targets=[
        {"ListenerId": ids[0], "EniIp": "10.1.0.10", "Port": 7000, "Weight": 10},
        {"ListenerId": ids[1], "EniIp": "10.1.0.11", "Port": 7001},
    ])
    assert batch["FailListenerIdSet"] == []
    targets = call(c, "DescribeTargets", LoadBalancerId=LB, ListenerIds=ids)["Listeners"]
    by_listener = {l["ListenerId"]: l["Targets"] for l in targets}
    first = by_listener[ids[0]][0]
    # As the official example shows an ENI target: the CVM holding the ENI, with both ids.
    assert first["Type"] == "CVM" and first["PrivateIpAddresses"] == ["10.1.0.10"] and first["Port"] == 7000
    assert first["EniId"].startswith("eni-") and first["InstanceId"].startswith("ins-")

    reg = retry_busy(call, c, "RegisterTargets", LoadBalancerId=LB, ListenerId=ids[0],
                     Targets=[{"EniIp": "10.1.0.12", "Port": 7000}])
    assert wait_clb_task(c, reg["RequestId"]) == 0
    dereg = call(c, "DeregisterTargets", LoadBalancerId=LB, ListenerId=ids[0],
                 Targets=[{"EniIp": "10.1.0.12", "Port": 7000}])
    assert wait_clb_task(c, dereg["RequestId"]) == 0
    call(c, "BatchDeregisterTargets", LoadBalancerId=LB,
         Targets=[{"ListenerId": ids[1], "EniIp": "10.1.0.11", "Port": 7001}])
    deleted = retry_busy(call, c, "DeleteListener", LoadBalancerId=LB, ListenerId=ids[0])
    assert wait_clb_task(c, deleted["RequestId"]) == 0
    rest = call(c, "DeleteLoadBalancerListeners", LoadBalancerId=LB, ListenerIds=[ids[1]])
    assert wait_clb_task(c, rest["RequestId"]) == 0
    assert call(c, "DescribeListeners", LoadBalancerId=LB)["TotalCount"] == 0
    quota = {q["QuotaId"]: q for q in call(c, "DescribeQuota")["QuotaSet"]}
    assert quota["TOTAL_LISTENER_QUOTA"]["QuotaLimit"] == 50


def test_listener_quota_duplicate_port_and_lock(emulator):
    c = clb(emulator)
    with pytest.raises(TencentCloudSDKException) as refused:
        call(c, "CreateListener", LoadBalancerId=LB, Ports=list(range(31000, 31050)), Protocol="UDP")
    assert refused.value.get_code() == "InvalidParameter"
    assert refused.value.get_message() == "Length of .Ports should be less than 50"
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=list(range(31000, 31049)), Protocol="UDP")
    assert error_code(c, "CreateListener", LoadBalancerId=LB, Ports=[32000], Protocol="UDP") == \
        "FailedOperation.ResourceInOperating"
    wait_clb_task(c, created["RequestId"])
    last = call(c, "CreateListener", LoadBalancerId=LB, Ports=[31049], Protocol="UDP")
    wait_clb_task(c, last["RequestId"])
    assert error_code(c, "CreateListener", LoadBalancerId=LB, Ports=[32000], Protocol="UDP") == "LimitExceeded"
    other = "lb-demo0002"
    created = call(c, "CreateListener", LoadBalancerId=other, Ports=[443], Protocol="TCP")
    wait_clb_task(c, created["RequestId"])
    assert error_code(c, "CreateListener", LoadBalancerId=other, Ports=[443], Protocol="HTTPS") == \
        "InvalidParameter.PortCheckFailed"


def test_load_balancer_lifecycle(emulator):
    c = clb(emulator)
    created = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", LoadBalancerName="extra",
                   Tags=[{"TagKey": "team", "TagValue": "games"}])
    assert call(c, "DescribeTaskStatus", DealName=created["DealName"])["Status"] == 2
    wait_clb_task(c, created["RequestId"])
    found = call(c, "DescribeLoadBalancers", Filters=[{"Name": "tag:team", "Values": ["games"]}])
    assert found["TotalCount"] == 1 and found["LoadBalancerSet"][0]["LoadBalancerName"] == "extra"
    deleted = call(c, "DeleteLoadBalancer", LoadBalancerIds=created["LoadBalancerIds"])
    assert wait_clb_task(c, deleted["RequestId"]) == 0


def test_domain_and_ipv6_load_balancers(emulator):
    c = clb(emulator)
    lbs = {lb["LoadBalancerId"]: lb for lb in call(c, "DescribeLoadBalancers", Limit=100)["LoadBalancerSet"]}
    domain = lbs["lb-domain01"]
    assert domain["LoadBalancerDomain"] == "lb-domain01-9f3c2a1b.clb.ap-guangzhou.tencentclb.com"
    assert domain["Domain"] == domain["LoadBalancerDomain"] and domain["LoadBalancerVips"] == []
    v6 = lbs["lb-ipv6-01"]
    assert v6["AddressIPv6"] == "2001:db8::1" and v6["AddressIPVersion"] == "ipv6"
    assert v6["IPv6Mode"] == "IPv6FullChain" and v6["LoadBalancerVips"] == []
    assert lbs[LB]["AddressIPVersion"] == "ipv4" and lbs[LB]["LoadBalancerDomain"] == ""


def test_deleting_a_listener_already_gone_fails_the_whole_call(emulator):
    c = clb(emulator)
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[35000, 35001], Protocol="TCP")
    wait_clb_task(c, created["RequestId"])
    keep, gone = created["ListenerIds"]
    deleted = call(c, "DeleteListener", LoadBalancerId=LB, ListenerId=gone)
    wait_clb_task(c, deleted["RequestId"])
    with pytest.raises(TencentCloudSDKException) as refused:
        call(c, "DeleteLoadBalancerListeners", LoadBalancerId=LB, ListenerIds=[keep, gone])
    assert refused.value.get_code() == "InvalidParameter"
    assert "some ListenerId" in refused.value.get_message() and "not found" in refused.value.get_message()
    assert gone in refused.value.get_message()
    # The other one is not deleted either.
    assert [l["ListenerId"] for l in call(c, "DescribeListeners", LoadBalancerId=LB)["Listeners"]] == [keep]


def test_batch_deregister_of_an_unbound_target_is_an_error(emulator):
    c = clb(emulator)
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[36000], Protocol="TCP")
    wait_clb_task(c, created["RequestId"])
    (listener,) = created["ListenerIds"]
    target = {"ListenerId": listener, "EniIp": "10.1.0.20", "Port": 7000}
    assert error_code(c, "BatchDeregisterTargets", LoadBalancerId=LB, Targets=[target]) == "InvalidParameter"
    retry_busy(call, c, "BatchRegisterTargets", LoadBalancerId=LB, Targets=[target])
    unknown = {"ListenerId": "lbl-nothere", "EniIp": "10.1.0.20", "Port": 7000}
    answer = retry_busy(call, c, "BatchDeregisterTargets", LoadBalancerId=LB, Targets=[target, unknown])
    assert answer["FailListenerIdSet"] == ["lbl-nothere"]
    assert answer["Message"] == "Listener lbl-nothere not exists."
    targets = call(c, "DescribeTargets", LoadBalancerId=LB, ListenerIds=[listener])["Listeners"][0]["Targets"]
    assert targets == []


def test_modify_listener(emulator):
    c = clb(emulator)
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[37000], Protocol="TCP",
                   HealthCheck={"HealthSwitch": 1, "TimeOut": 2, "IntervalTime": 5})
    (listener,) = created["ListenerIds"]
    assert error_code(c, "ModifyListener", LoadBalancerId=LB, ListenerId=listener, Scheduler="LEAST_CONN") == \
        "FailedOperation.ResourceInOperating"
    wait_clb_task(c, created["RequestId"])
    modified = call(c, "ModifyListener", LoadBalancerId=LB, ListenerId=listener, ListenerName="renamed",
                    Scheduler="LEAST_CONN", SessionExpireTime=120, HealthCheck={"IntervalTime": 10},
                    IdleConnectTimeout=300, DeregisterTargetRst=True)
    assert call(c, "DescribeTaskStatus", TaskId=modified["RequestId"])["Status"] == 2
    assert wait_clb_task(c, modified["RequestId"]) == 0
    (l,) = call(c, "DescribeListeners", LoadBalancerId=LB, ListenerIds=[listener])["Listeners"]
    assert (l["ListenerName"], l["Scheduler"], l["SessionExpireTime"]) == ("renamed", "LEAST_CONN", 120)
    assert l["HealthCheck"]["IntervalTime"] == 10 and l["HealthCheck"]["TimeOut"] == 2
    assert l["IdleConnectTimeout"] == 300 and l["DeregisterTargetRst"] is True
    assert error_code(c, "ModifyListener", LoadBalancerId=LB, ListenerId=listener, Scheduler="RANDOM") == \
        "InvalidParameterValue"
    assert error_code(c, "ModifyListener", LoadBalancerId=LB, ListenerId="lbl-nothere", Scheduler="WRR") == \
        "InvalidParameter.ListenerIdNotFound"


def test_load_balancer_creation_tokens_tags_and_deletion(emulator):
    c = clb(emulator)
    tags = [{"TagKey": "pool", "TagValue": "games"}]
    first = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", Number=2, Tags=tags,
                 ClientToken="token-create-1")
    again = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", Number=2, Tags=tags,
                 ClientToken="token-create-1")
    assert again["LoadBalancerIds"] == first["LoadBalancerIds"] and again["DealName"] == first["DealName"]
    ids = first["LoadBalancerIds"]
    found = call(c, "DescribeLoadBalancers", LoadBalancerIds=ids)["LoadBalancerSet"]
    assert [lb["Status"] for lb in found] == [0, 0]
    assert wait_clb_task(c, first["RequestId"]) == 0
    by_key = call(c, "DescribeLoadBalancers", Filters=[{"Name": "tag-key", "Values": ["pool"]}])
    by_value = call(c, "DescribeLoadBalancers", Filters=[{"Name": "tag:pool", "Values": ["games"]}])
    assert sorted(lb["LoadBalancerId"] for lb in by_key["LoadBalancerSet"]) == sorted(ids)
    assert by_value["TotalCount"] == 2
    assert all(lb["Status"] == 1 for lb in by_value["LoadBalancerSet"])
    # A name taken already is replaced by a generated one.
    named = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", LoadBalancerName="demo-clb-1")
    (lb,) = call(c, "DescribeLoadBalancers", LoadBalancerIds=named["LoadBalancerIds"])["LoadBalancerSet"]
    assert lb["LoadBalancerName"] != "demo-clb-1"
    domain = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", DynamicVip=True)
    v6 = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", AddressIPVersion="IPv6FullChain")
    described = call(c, "DescribeLoadBalancers",
                     LoadBalancerIds=domain["LoadBalancerIds"] + v6["LoadBalancerIds"])["LoadBalancerSet"]
    by_id = {lb["LoadBalancerId"]: lb for lb in described}
    assert by_id[domain["LoadBalancerIds"][0]]["LoadBalancerDomain"].endswith(".clb.ap-guangzhou.tencentclb.com")
    assert by_id[v6["LoadBalancerIds"][0]]["AddressIPv6"].startswith("2001:db8::")
    assert error_code(c, "CreateLoadBalancer", LoadBalancerType="INTERNAL") == "MissingParameter"
    emulator.post("settings", {"open_clb_quota": 9})
    quota = {q["QuotaId"]: q for q in call(c, "DescribeQuota")["QuotaSet"]}
    assert quota["TOTAL_OPEN_CLB_QUOTA"]["QuotaCurrent"] == 9, "4 seeded and 5 created"
    assert error_code(c, "CreateLoadBalancer", LoadBalancerType="OPEN") == "LimitExceeded"

    # Deleting one with 20 targets or more needs ForceDelete; its listeners go with it.
    target_lb = ids[0]
    ports = list(range(38000, 38020))
    listeners = retry_busy(call, c, "CreateListener", LoadBalancerId=target_lb, Ports=ports, Protocol="TCP")
    wait_clb_task(c, listeners["RequestId"])
    targets = [{"ListenerId": lid, "EniIp": f"10.1.2.{i + 1}", "Port": 7000}
               for i, lid in enumerate(listeners["ListenerIds"])]
    call(c, "BatchRegisterTargets", LoadBalancerId=target_lb, Targets=targets)
    assert unlocked_error_code(c, "DeleteLoadBalancer", LoadBalancerIds=[target_lb]) == \
        "FailedOperation.TargetNumCheckRisk"
    deleted = call(c, "DeleteLoadBalancer", LoadBalancerIds=[target_lb], ForceDelete=True)
    assert wait_clb_task(c, deleted["RequestId"]) == 0
    assert call(c, "DescribeLoadBalancers", LoadBalancerIds=[target_lb])["TotalCount"] == 0
    assert error_code(c, "DescribeListeners", LoadBalancerId=target_lb) == "InvalidParameter.LBIdNotFound"


def test_after_apply_faults_do_the_write_and_lose_the_answer(emulator):
    c = clb(emulator)
    emulator.post("faults", {"action": "CreateListener", "drop": True, "afterApply": True, "count": 1})
    assert error_code(c, "CreateListener", LoadBalancerId=LB, Ports=[39000], Protocol="TCP",
                      ListenerNames=["lost-answer"]) == "ClientNetworkError"
    names = [l["ListenerName"] for l in call(c, "DescribeListeners", LoadBalancerId=LB)["Listeners"]]
    assert names == ["lost-answer"], "created although the answer was dropped"
    emulator.post("faults", {"action": "DeleteLoadBalancerListeners", "code": "InternalError",
                             "afterApply": True, "count": 1})
    (listener,) = [l["ListenerId"] for l in call(c, "DescribeListeners", LoadBalancerId=LB)["Listeners"]]
    # A call that fails by itself (the instance is still locked by the create) does not use
    # up an afterApply fault: only a call that was carried out is made ambiguous.
    with pytest.raises(TencentCloudSDKException) as refused:
        retry_busy(call, c, "DeleteLoadBalancerListeners", LoadBalancerId=LB, ListenerIds=[listener])
    assert refused.value.get_code() == "InternalError"
    assert call(c, "DescribeListeners", LoadBalancerId=LB)["TotalCount"] == 0
    listed = emulator.admin.get(f"http://{emulator.endpoint}/_emulator/faults", timeout=10).json()
    assert listed["faults"] == []


def test_the_realistic_profile_is_slow_like_the_cloud():
    emu = Emulator(config=ROOT / "examples" / "emulator-realistic.toml")
    try:
        c = clb(emu)
        created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[40000], Protocol="TCP")
        started = time.monotonic()
        while call(c, "DescribeTaskStatus", TaskId=created["RequestId"])["Status"] == 2:
            time.sleep(0.1)
        took = time.monotonic() - started
        assert took >= 0.8, f"a CLB task takes 1-3 s, this one {took:.2f} s"
    finally:
        emu.stop()


def dnat(port, private_ip, protocol="TCP", public_ip="198.51.100.1"):
    return {"IpProtocol": protocol, "PublicIpAddress": public_ip, "PublicPort": port,
            "PrivateIpAddress": private_ip, "PrivatePort": 8080, "Description": "dac:ns/room/8080"}


def test_dnat_rules(emulator):
    v = vpc(emulator)
    gateways = call(v, "DescribeNatGateways", NatGatewayIds=[NAT])["NatGatewaySet"]
    ips = [a["PublicIpAddress"] for a in gateways[0]["PublicIpAddressSet"]]
    assert ips == ["198.51.100.1", "198.51.100.2"] and gateways[0]["State"] == "AVAILABLE"
    call(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(40000, "10.3.0.5"), dnat(40001, "10.3.0.6")])
    rules = call(v, "DescribeNatGatewayDestinationIpPortTranslationNatRules",
                 Filters=[{"Name": "nat-gateway-id", "Values": [NAT]}])
    assert rules["TotalCount"] == 2
    rule = rules["NatGatewayDestinationIpPortTranslationNatRuleSet"][0]
    assert rule["NatGatewayId"] == NAT and rule["VpcId"] == "vpc-demo0001" and rule["CreatedTime"]
    assert error_code(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      DestinationIpPortTranslationNatRules=[dnat(40000, "10.3.0.7")]) == \
        "InvalidParameterValue.NatGatewayDnatRuleExisted"
    assert error_code(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      DestinationIpPortTranslationNatRules=[dnat(1, "10.3.0.7", public_ip="198.51.100.77")]) == \
        "UnsupportedOperation.NatGatewayEipNotExists"
    call(v, "ModifyNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         SourceNatRule=dnat(40001, "10.3.0.6"), DestinationNatRule=dnat(40001, "10.3.0.9"))
    moved = call(v, "DescribeNatGatewayDestinationIpPortTranslationNatRules",
                 Filters=[{"Name": "private-ip-address", "Values": ["10.3.0.9"]}])
    assert moved["TotalCount"] == 1
    call(v, "DeleteNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(40000, "10.3.0.5"), dnat(40001, "10.3.0.9")])
    left = call(v, "DescribeNatGatewayDestinationIpPortTranslationNatRules", NatGatewayIds=[NAT])
    assert left["TotalCount"] == 0


def test_eip_lifecycle_on_an_eni(emulator):
    v = vpc(emulator)
    quota = {q["QuotaId"]: q for q in call(v, "DescribeAddressQuota")["QuotaSet"]}
    assert quota["TOTAL_EIP_QUOTA"]["QuotaLimit"] == 20
    allocated = call(v, "AllocateAddresses", AddressCount=1, AddressName="room-1",
                     Tags=[{"Key": "owner", "Value": "dac"}])
    eip = allocated["AddressSet"][0]
    assert wait_eip_task(v, allocated["TaskId"]) == "SUCCESS"

    pod_ip = "10.5.1.23"
    enis = call(v, "DescribeNetworkInterfaces", Filters=[
        {"Name": "address-ip", "Values": [pod_ip]}, {"Name": "ip-exact-match", "Values": ["true"]}])
    assert enis["TotalCount"] == 1
    eni = enis["NetworkInterfaceSet"][0]
    assert eni["PrivateIpAddressSet"][0]["PrivateIpAddress"] == pod_ip
    eni_id = eni["NetworkInterfaceId"]

    bound = call(v, "AssociateAddress", AddressId=eip, NetworkInterfaceId=eni_id, PrivateIpAddress=pod_ip)
    assert wait_eip_task(v, bound["TaskId"]) == "SUCCESS"
    described = call(v, "DescribeAddresses", AddressIds=[eip])["AddressSet"][0]
    assert described["AddressStatus"] == "BIND"
    assert described["NetworkInterfaceId"] == eni_id and described["PrivateAddressIp"] == pod_ip
    assert described["TagSet"] == [{"Key": "owner", "Value": "dac"}]
    by_filter = call(v, "DescribeAddresses", Filters=[{"Name": "address-status", "Values": ["BIND"]},
                                                      {"Name": "network-interface-id", "Values": [eni_id]}])
    assert [a["AddressId"] for a in by_filter["AddressSet"]] == [eip]
    eni = call(v, "DescribeNetworkInterfaces", NetworkInterfaceIds=[eni_id])["NetworkInterfaceSet"][0]
    assert eni["PrivateIpAddressSet"][0]["AddressId"] == eip

    unbound = call(v, "DisassociateAddress", AddressId=eip)
    assert call(v, "DescribeAddresses", AddressIds=[eip])["AddressSet"][0]["AddressStatus"] == "UNBINDING"
    assert wait_eip_task(v, unbound["TaskId"]) == "SUCCESS"
    released = call(v, "ReleaseAddresses", AddressIds=[eip])
    assert wait_eip_task(v, released["TaskId"]) == "SUCCESS"
    assert call(v, "DescribeAddresses", AddressIds=[eip])["TotalCount"] == 0


def test_get_requests(emulator):
    c = clb(emulator, method="GET")
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=[33000], Protocol="TCP", ListenerNames=["9"])
    assert wait_clb_task(c, created["RequestId"]) == 0
    assert call(c, "DescribeListeners", LoadBalancerId=LB, Port=33000)["Listeners"][0]["ListenerName"] == "9"
    v = vpc(emulator, method="GET")
    found = call(v, "DescribeNetworkInterfaces", Filters=[
        {"Name": "address-ip", "Values": ["10.6.0.1"]}, {"Name": "ip-exact-match", "Values": ["true"]}], Limit=1)
    assert found["TotalCount"] == 1


def test_bad_credentials(emulator):
    assert error_code(clb(emulator, secret_key="wrong-secret"), "DescribeQuota") == "AuthFailure.SignatureFailure"
    assert error_code(clb(emulator, secret_id="AKIDUNKNOWN"), "DescribeQuota") == "AuthFailure.SecretIdNotFound"


def test_validation_and_faults(emulator):
    c = clb(emulator)
    assert error_code(c, "CreateListener", LoadBalancerId=LB, Protocol="TCP") == "MissingParameter"
    assert error_code(c, "DescribeListeners", LoadBalancerId="lb-nothere") == "InvalidParameter.LBIdNotFound"
    emulator.post("faults", {"action": "DescribeQuota", "code": "RequestLimitExceeded", "count": 1})
    assert error_code(c, "DescribeQuota") == "RequestLimitExceeded"
    call(c, "DescribeQuota")
    emulator.post("faults", {"action": "DescribeQuota", "drop": True, "count": 1})
    assert error_code(c, "DescribeQuota") == "ClientNetworkError"
    call(c, "DescribeQuota")


def test_unknown_response_fields_fail():
    """The check the whole suite relies on: an unknown field warns, and the warning fails."""
    with pytest.raises(UserWarning):
        clb_models.Listener()._deserialize({"ListenerId": "lbl-1", "NotAField": 1})


def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    emu = Emulator(["--state-file", str(state)])
    try:
        call(vpc(emu), "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
             DestinationIpPortTranslationNatRules=[dnat(50000, "10.7.0.1", protocol="UDP")])
    finally:
        emu.stop()
    emu = Emulator(["--state-file", str(state)])
    try:
        rules = call(vpc(emu), "DescribeNatGatewayDestinationIpPortTranslationNatRules", NatGatewayIds=[NAT])
        assert rules["TotalCount"] == 1
        assert rules["NatGatewayDestinationIpPortTranslationNatRuleSet"][0]["PublicPort"] == 50000
    finally:
        emu.stop()


def test_nat_gateway_states_and_busy_writes(emulator):
    v = vpc(emulator)
    emulator.post(f"nat-gateways/{NAT}", {"state": "UPDATING"})
    (gw,) = call(v, "DescribeNatGateways", NatGatewayIds=[NAT])["NatGatewaySet"]
    assert gw["State"] == "UPDATING"
    updating = call(v, "DescribeNatGateways", Filters=[{"Name": "nat-state", "Values": ["UPDATING"]}])
    assert updating["TotalCount"] == 1
    assert error_code(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      DestinationIpPortTranslationNatRules=[dnat(41000, "10.3.0.5")]) == \
        "UnsupportedOperation.NatGatewayIsBusy"
    emulator.post(f"nat-gateways/{NAT}", {"state": "AVAILABLE"})
    call(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(41000, "10.3.0.5")])
    # Busy for a while after each write, when so configured.
    emulator.post("settings", {"dnat_update_ms": 60000})
    call(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(41001, "10.3.0.6")])
    assert call(v, "DescribeNatGateways", NatGatewayIds=[NAT])["NatGatewaySet"][0]["State"] == "UPDATING"
    assert error_code(v, "DeleteNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      DestinationIpPortTranslationNatRules=[dnat(41001, "10.3.0.6")]) == \
        "UnsupportedOperation.NatGatewayIsBusy"


def test_a_private_address_targeted_twice(emulator):
    v = vpc(emulator)
    call(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(42000, "10.3.1.1"), dnat(42001, "10.3.1.2")])
    assert error_code(v, "ModifyNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      SourceNatRule=dnat(42001, "10.3.1.2"), DestinationNatRule=dnat(42001, "10.3.1.1")) == \
        "UnsupportedOperation.NatGatewayRulePipExists"
    # Create does not check it unless configured to (undocumented either way).
    call(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
         DestinationIpPortTranslationNatRules=[dnat(42002, "10.3.1.1")])
    emulator.post("settings", {"dnat_create_checks_private_side": True})
    assert error_code(v, "CreateNatGatewayDestinationIpPortTranslationNatRule", NatGatewayId=NAT,
                      DestinationIpPortTranslationNatRules=[dnat(42003, "10.3.1.2")]) == \
        "UnsupportedOperation.NatGatewayRulePipExists"


def test_eip_status_conflicts_have_each_listed_code(emulator):
    v = vpc(emulator)
    allocated = call(v, "AllocateAddresses", AddressCount=1)
    (eip,) = allocated["AddressSet"]
    wait_eip_task(v, allocated["TaskId"])
    disassociate = {error_code(v, "DisassociateAddress", AddressId=eip) for _ in range(2)}
    assert disassociate == {"InvalidAddressIdStatus.NotPermit", "UnsupportedOperation.AddressStatusNotPermit"}
    pod_ip = "10.5.2.1"
    enis = call(v, "DescribeNetworkInterfaces", Filters=[
        {"Name": "address-ip", "Values": [pod_ip]}, {"Name": "ip-exact-match", "Values": ["true"]}])
    eni = enis["NetworkInterfaceSet"][0]["NetworkInterfaceId"]
    bound = call(v, "AssociateAddress", AddressId=eip, NetworkInterfaceId=eni, PrivateIpAddress=pod_ip)
    wait_eip_task(v, bound["TaskId"])
    assert error_code(v, "AssociateAddress", AddressId=eip, NetworkInterfaceId=eni, PrivateIpAddress=pod_ip) == \
        "UnsupportedOperation.AddressStatusNotPermit"
    release = {error_code(v, "ReleaseAddresses", AddressIds=[eip]) for _ in range(2)}
    assert release == {"InvalidAddressState", "UnsupportedOperation.AddressStatusNotPermit"}


def test_address_names_and_client_tokens(emulator):
    v = vpc(emulator)
    first = call(v, "AllocateAddresses", AddressCount=1, AddressName="dac_c_pool", ClientToken="tok-1")
    # Resent while its task runs: refused as still processing.
    assert error_code(v, "AllocateAddresses", AddressCount=1, AddressName="dac_c_pool", ClientToken="tok-1") == \
        "UnsupportedOperation.IdempotentProcessing"
    wait_eip_task(v, first["TaskId"])
    again = call(v, "AllocateAddresses", AddressCount=1, AddressName="dac_c_pool", ClientToken="tok-1")
    assert again["AddressSet"] == first["AddressSet"] and again["TaskId"] == first["TaskId"]
    named = call(v, "DescribeAddresses", Filters=[{"Name": "address-name", "Values": ["dac_c_pool"]}])
    assert named["TotalCount"] == 1, "allocated once"
    (eip,) = first["AddressSet"]
    call(v, "ModifyAddressAttribute", AddressId=eip, AddressName="dac_c_ns_pod-0_kept-1700000000")
    assert call(v, "DescribeAddresses", AddressIds=[eip])["AddressSet"][0]["AddressName"] == \
        "dac_c_ns_pod-0_kept-1700000000"
    assert error_code(v, "ModifyAddressAttribute", AddressId=eip, AddressName="x" * 129) == \
        "InvalidParameterValue.TooLong"
    assert error_code(v, "ModifyAddressAttribute", AddressId="eip-nothere", AddressName="x") == \
        "InvalidAddressId.NotFound"
    # A lost answer is recovered with the same token, not allocated twice.
    emulator.post("faults", {"action": "AllocateAddresses", "drop": True, "afterApply": True, "count": 1})
    assert error_code(v, "AllocateAddresses", AddressCount=1, ClientToken="tok-2") == "ClientNetworkError"
    for _ in range(100):
        try:
            resent = call(v, "AllocateAddresses", AddressCount=1, ClientToken="tok-2")
            break
        except TencentCloudSDKException as e:
            assert e.get_code() == "UnsupportedOperation.IdempotentProcessing"
            time.sleep(0.1)
    quota = {q["QuotaId"]: q for q in call(v, "DescribeAddressQuota")["QuotaSet"]}
    assert quota["TOTAL_EIP_QUOTA"]["QuotaCurrent"] == 4, "the gateway's two, tok-1's and tok-2's"
    assert len(resent["AddressSet"]) == 1


def test_deleting_many_instances_in_a_short_time_needs_force(emulator):
    c = clb(emulator)
    first = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", Number=20)
    second = call(c, "CreateLoadBalancer", LoadBalancerType="OPEN", Number=15)
    wait_clb_task(c, first["RequestId"])
    wait_clb_task(c, second["RequestId"])
    ids = first["LoadBalancerIds"] + second["LoadBalancerIds"]
    deleted = call(c, "DeleteLoadBalancer", LoadBalancerIds=ids[:20])
    wait_clb_task(c, deleted["RequestId"])
    # The 30th deletion within 5 minutes is intercepted unless forced.
    assert error_code(c, "DeleteLoadBalancer", LoadBalancerIds=ids[20:30]) == \
        "FailedOperation.FrequencyCheckRisk"
    forced = call(c, "DeleteLoadBalancer", LoadBalancerIds=ids[20:30], ForceDelete=True)
    wait_clb_task(c, forced["RequestId"])
    assert call(c, "DescribeLoadBalancers", LoadBalancerIds=ids[20:])["TotalCount"] == 5
