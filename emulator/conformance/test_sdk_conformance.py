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

    def __init__(self, extra_args=()):
        binary = os.environ.get("EMULATOR_BIN") or str(ROOT / "target" / "debug" / "tencentcloud-emulator")
        if not os.path.exists(binary):
            pytest.fail(f"{binary} not found: run `cargo build -p tencentcloud-emulator` first")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--config", str(CONFIG), *extra_args],
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
    assert first["Type"] == "ENI" and first["PrivateIpAddresses"] == ["10.1.0.10"] and first["Port"] == 7000
    assert first["EniId"].startswith("eni-")

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
    created = call(c, "CreateListener", LoadBalancerId=LB, Ports=list(range(31000, 31050)), Protocol="UDP")
    assert error_code(c, "CreateListener", LoadBalancerId=LB, Ports=[32000], Protocol="UDP") == \
        "FailedOperation.ResourceInOperating"
    wait_clb_task(c, created["RequestId"])
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
