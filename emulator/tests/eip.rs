//! VPC EIPs: allocation, quotas, tasks, association to an ENI IP, release.
mod common;

use common::{Client, fast_config, start};
use serde_json::{Value, json};

async fn allocate(client: &Client, count: u64) -> (Vec<String>, String) {
    let r = client
        .ok("AllocateAddresses", json!({"AddressCount": count}))
        .await;
    let ids = r["AddressSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (ids, r["TaskId"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn eips_allocate_associate_to_an_eni_and_release() {
    // Long enough that the checks made while a task runs cannot miss it on a loaded machine.
    let mut config = fast_config();
    config.settings.eip_task_latency_ms = 600;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    let (ids, task) = allocate(&client, 1).await;
    let eip = ids[0].clone();
    let described = client
        .ok("DescribeAddresses", json!({"AddressIds": [eip]}))
        .await;
    assert_eq!(described["AddressSet"][0]["AddressStatus"], "CREATING");
    let ip = described["AddressSet"][0]["AddressIp"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ip.starts_with("198.51.100.") || ip.starts_with("192.0.2."),
        "{ip}"
    );
    assert_eq!(
        client
            .code(
                "AssociateAddress",
                json!({"AddressId": eip, "InstanceId": "ins-1"})
            )
            .await,
        "OperationDenied.MutexTaskRunning"
    );
    assert_eq!(client.wait_eip_task(&task).await, "SUCCESS");

    let enis = client
        .ok("DescribeNetworkInterfaces", json!({"Filters": [
            {"Name": "address-ip", "Values": ["10.2.0.8"]}, {"Name": "ip-exact-match", "Values": ["true"]}]}))
        .await;
    let eni = enis["NetworkInterfaceSet"][0]["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong_ip =
        json!({"AddressId": eip, "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.9"});
    assert_eq!(
        client.code("AssociateAddress", wrong_ip).await,
        "InvalidNetworkInterfaceId.NotFound"
    );
    let bind = json!({"AddressId": eip, "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.8"});
    let r = client.ok("AssociateAddress", bind.clone()).await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let bound = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "private-ip-address", "Values": ["10.2.0.8"]}]}),
        )
        .await;
    assert_eq!(bound["TotalCount"], 1);
    let address = &bound["AddressSet"][0];
    assert_eq!(address["AddressStatus"], "BIND");
    assert_eq!(address["NetworkInterfaceId"], eni);
    let enis = client
        .ok(
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": [eni]}),
        )
        .await;
    assert_eq!(
        enis["NetworkInterfaceSet"][0]["PrivateIpAddressSet"][0]["PublicIpAddress"],
        ip
    );

    // A second EIP for the same private IP is refused; a bound EIP cannot be released.
    let (others, task) = allocate(&client, 1).await;
    client.wait_eip_task(&task).await;
    let again =
        json!({"AddressId": others[0], "NetworkInterfaceId": eni, "PrivateIpAddress": "10.2.0.8"});
    assert_eq!(
        client.code("AssociateAddress", again).await,
        "InvalidPrivateIpAddress.AlreadyBindEip"
    );
    // The status conflict comes with each code the SDK lists for the action, in turn.
    let release = json!({"AddressIds": [eip]});
    let mut codes = vec![
        client.code("ReleaseAddresses", release.clone()).await,
        client.code("ReleaseAddresses", release).await,
    ];
    codes.sort();
    assert_eq!(
        codes,
        [
            "InvalidAddressState",
            "UnsupportedOperation.AddressStatusNotPermit"
        ]
    );
    let (unbound, task) = allocate(&client, 1).await;
    client.wait_eip_task(&task).await;
    let disassociate = json!({"AddressId": unbound[0]});
    let mut codes = vec![
        client
            .code("DisassociateAddress", disassociate.clone())
            .await,
        client.code("DisassociateAddress", disassociate).await,
    ];
    codes.sort();
    assert_eq!(
        codes,
        [
            "InvalidAddressIdStatus.NotPermit",
            "UnsupportedOperation.AddressStatusNotPermit"
        ]
    );
    client
        .ok(
            "ModifyAddressAttribute",
            json!({"AddressId": unbound[0], "AddressName": "renamed_1-x"}),
        )
        .await;
    let renamed = client
        .ok("DescribeAddresses", json!({"AddressIds": [unbound[0]]}))
        .await;
    assert_eq!(renamed["AddressSet"][0]["AddressName"], "renamed_1-x");
    for (name, code) in [
        ("a b", "InvalidParameterValue"),
        (&*"x".repeat(129), "InvalidParameterValue.TooLong"),
    ] {
        let params = json!({"AddressId": unbound[0], "AddressName": name});
        assert_eq!(client.code("ModifyAddressAttribute", params).await, code);
    }
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [unbound[0]]}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    // NAT gateway EIPs are not ours to detach.
    assert_eq!(
        client
            .code("DisassociateAddress", json!({"AddressId": "eip-demo0001"}))
            .await,
        "UnsupportedOperation.IncorrectAddressResourceType"
    );

    let r = client
        .ok("DisassociateAddress", json!({"AddressId": eip}))
        .await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [eip, others[0]]}))
        .await;
    assert_eq!(
        client.wait_eip_task(r["TaskId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let left = client.ok("DescribeAddresses", json!({})).await;
    assert_eq!(
        left["TotalCount"], 2,
        "only the NAT gateway's EIPs remain: {left}"
    );
    assert_eq!(
        client
            .code("DisassociateAddress", json!({"AddressId": eip}))
            .await,
        "InvalidAddressId.NotFound"
    );
}

#[tokio::test]
async fn eip_quota_and_daily_limit() {
    let mut config = fast_config();
    config.settings.eip_quota = 5;
    let emulator = start(config).await;
    let client = Client::new(&emulator);
    let quota = |r: &Value, id: &str| {
        r["QuotaSet"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["QuotaId"] == id)
            .unwrap()
            .clone()
    };
    let r = client.ok("DescribeAddressQuota", json!({})).await;
    assert_eq!(
        quota(&r, "TOTAL_EIP_QUOTA")["QuotaCurrent"],
        2,
        "the NAT gateway's two EIPs count"
    );
    assert_eq!(quota(&r, "DAILY_EIP_APPLY")["QuotaLimit"], 10);

    let (ids, task) = allocate(&client, 3).await;
    assert_eq!(
        client.code("AllocateAddresses", json!({})).await,
        "AddressQuotaLimitExceeded"
    );
    client.wait_eip_task(&task).await;
    // Churn: release and allocate until the daily limit (2 x quota) stops it.
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": ids}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    let (ids, task) = allocate(&client, 3).await;
    client.wait_eip_task(&task).await;
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": ids}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    let (_, task) = allocate(&client, 3).await;
    client.wait_eip_task(&task).await;
    let r = client.ok("DescribeAddressQuota", json!({})).await;
    assert_eq!(quota(&r, "DAILY_EIP_APPLY")["QuotaCurrent"], 9);
    let r = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "address-status", "Values": ["UNBIND"]}]}),
        )
        .await;
    let spare = r["AddressSet"][0]["AddressId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [spare]}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    client
        .ok("AllocateAddresses", json!({"AddressCount": 1}))
        .await;
    assert_eq!(
        client
            .code("AllocateAddresses", json!({"AddressCount": 1}))
            .await,
        "AddressQuotaLimitExceeded"
    );
    let r = client
        .ok(
            "DescribeAddresses",
            json!({"Filters": [{"Name": "address-status", "Values": ["UNBIND"]}]}),
        )
        .await;
    let spare = r["AddressSet"][0]["AddressId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = client
        .ok("ReleaseAddresses", json!({"AddressIds": [spare]}))
        .await;
    client.wait_eip_task(r["TaskId"].as_str().unwrap()).await;
    assert_eq!(
        client
            .code("AllocateAddresses", json!({"AddressCount": 1}))
            .await,
        "AddressQuotaLimitExceeded.DailyAllocate"
    );
}
