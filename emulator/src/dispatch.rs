//! From an action name and its (validated) parameters to the product code that answers it.
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{RegionConfig, Settings, VpcConfig};
use crate::error::{ApiError, ApiResult};
use crate::state::RegionState;
use crate::tasks::Tasks;
use crate::{clb, eip, eni, natgw};

/// What an action works with: one region's state, the tasks, and the knobs in force.
pub struct Ctx<'a> {
    pub region: &'a mut RegionState,
    pub tasks: &'a mut Tasks,
    pub region_config: &'a RegionConfig,
    pub region_name: &'a str,
    pub settings: &'a Settings,
    pub now_ms: i64,
    /// Also the TaskId of an asynchronous CLB write.
    pub request_id: &'a str,
}

impl<'a> Ctx<'a> {
    pub fn vpc(&self, id: &str) -> ApiResult<&'a VpcConfig> {
        self.region_config
            .vpcs
            .iter()
            .find(|v| v.id == id)
            .ok_or_else(|| {
                ApiError::new("InvalidParameterValue", format!("VPC {id} does not exist."))
            })
    }
}

/// Requests per second the cloud allows per action, where the reference names a limit.
pub fn default_rate_limit(action: &str) -> Option<f64> {
    match action {
        "CreateListener"
        | "DescribeListeners"
        | "DeleteListener"
        | "DeleteLoadBalancerListeners"
        | "RegisterTargets"
        | "BatchRegisterTargets" => Some(20.0),
        "CreateNatGatewayDestinationIpPortTranslationNatRule"
        | "DeleteNatGatewayDestinationIpPortTranslationNatRule"
        | "ModifyNatGatewayDestinationIpPortTranslationNatRule"
        | "DescribeNatGatewayDestinationIpPortTranslationNatRules" => Some(100.0),
        "AssociateAddress" => Some(10.0),
        _ => None,
    }
}

fn run<'a, T: DeserializeOwned>(
    ctx: &mut Ctx<'a>,
    params: Value,
    handler: fn(&mut Ctx<'a>, T) -> ApiResult<Value>,
) -> ApiResult<Value> {
    // The schema check ran first, so this only fails on values no field type covers
    // (an integer too large for its field, say).
    let request = serde_json::from_value(params).map_err(ApiError::invalid_parameter)?;
    handler(ctx, request)
}

/// Runs `action`. The result is the body of `Response` without `RequestId`.
pub fn call(ctx: &mut Ctx<'_>, action: &str, params: Value) -> ApiResult<Value> {
    use clb::{instances, listeners, targets};
    match action {
        "CreateListener" => run(ctx, params, listeners::create),
        "DeleteListener" => run(ctx, params, listeners::delete),
        "DeleteLoadBalancerListeners" => run(ctx, params, listeners::delete_many),
        "DescribeListeners" => run(ctx, params, listeners::describe),
        "ModifyListener" => run(ctx, params, listeners::modify),
        "RegisterTargets" => run(ctx, params, targets::register),
        "DeregisterTargets" => run(ctx, params, targets::deregister),
        "BatchRegisterTargets" => run(ctx, params, targets::batch_register),
        "BatchDeregisterTargets" => run(ctx, params, targets::batch_deregister),
        "DescribeTargets" => run(ctx, params, targets::describe),
        "CreateLoadBalancer" => run(ctx, params, instances::create),
        "DeleteLoadBalancer" => run(ctx, params, instances::delete),
        "DescribeLoadBalancers" => run(ctx, params, instances::describe),
        "DescribeQuota" => run(ctx, params, clb::describe_quota),
        "DescribeTaskStatus" => run(ctx, params, clb::describe_task_status),
        "CreateNatGatewayDestinationIpPortTranslationNatRule" => {
            run(ctx, params, natgw::rules::create)
        }
        "DeleteNatGatewayDestinationIpPortTranslationNatRule" => {
            run(ctx, params, natgw::rules::delete)
        }
        "ModifyNatGatewayDestinationIpPortTranslationNatRule" => {
            run(ctx, params, natgw::rules::modify)
        }
        "DescribeNatGatewayDestinationIpPortTranslationNatRules" => {
            run(ctx, params, natgw::rules::describe)
        }
        "DescribeNatGateways" => run(ctx, params, natgw::describe),
        "AllocateAddresses" => run(ctx, params, eip::lifecycle::allocate),
        "AssociateAddress" => run(ctx, params, eip::bind::associate),
        "DisassociateAddress" => run(ctx, params, eip::bind::disassociate),
        "ReleaseAddresses" => run(ctx, params, eip::lifecycle::release),
        "ModifyAddressAttribute" => run(ctx, params, eip::lifecycle::modify_attribute),
        "DescribeAddresses" => run(ctx, params, eip::describe::describe),
        "DescribeAddressQuota" => run(ctx, params, eip::lifecycle::describe_quota),
        "DescribeTaskResult" => run(ctx, params, eip::lifecycle::describe_task_result),
        "DescribeNetworkInterfaces" => run(ctx, params, eni::describe),
        _ => Err(ApiError::new(
            "InvalidAction",
            format!("The action `{action}` is not supported by the emulator."),
        )),
    }
}
