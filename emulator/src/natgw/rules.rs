//! Create/Delete/Modify/DescribeNatGatewayDestinationIpPortTranslationNatRule(s).
use serde::Deserialize;
use serde_json::{Value, json};

use super::{DnatRule, NatGateway};
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::util::{page, vpc_time};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleInput {
    ip_protocol: String,
    public_ip_address: String,
    public_port: u64,
    private_ip_address: String,
    private_port: u64,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulesRequest {
    nat_gateway_id: String,
    destination_ip_port_translation_nat_rules: Vec<RuleInput>,
}

const RULES: &str = "DestinationIpPortTranslationNatRules";

/// Checks a rule against the gateway: its EIP, ports, protocol and a private IP in the VPC.
fn checked_rule(ctx: &Ctx<'_>, nat: &NatGateway, r: &RuleInput, path: &str) -> ApiResult<DnatRule> {
    let protocol = r.ip_protocol.to_ascii_uppercase();
    if protocol != "TCP" && protocol != "UDP" {
        return Err(ApiError::invalid_value(format!(
            "`{path}.IpProtocol` must be TCP or UDP, not {}.",
            r.ip_protocol
        )));
    }
    for (name, port) in [
        ("PublicPort", r.public_port),
        ("PrivatePort", r.private_port),
    ] {
        if !(1..=65535).contains(&port) {
            return Err(ApiError::range(&format!("{path}.{name}"), port, 1, 65535));
        }
    }
    if !ctx
        .nat_public_ips(nat)
        .iter()
        .any(|(_, ip)| *ip == r.public_ip_address)
    {
        return Err(ApiError::new(
            "UnsupportedOperation.NatGatewayEipNotExists",
            format!(
                "{} is not an EIP of NAT gateway {}.",
                r.public_ip_address, nat.nat_gateway_id
            ),
        ));
    }
    let vpc = ctx.vpc(&nat.vpc_id)?;
    if vpc.cidr.contains_str(&r.private_ip_address).is_none() {
        return Err(ApiError::new(
            "InvalidParameterValue.NatGatewayDnatRulePipNeedVm",
            format!(
                "{} is not an IP of a VM in VPC {}.",
                r.private_ip_address, nat.vpc_id
            ),
        ));
    }
    Ok(DnatRule {
        ip_protocol: protocol,
        public_ip_address: r.public_ip_address.clone(),
        public_port: r.public_port,
        private_ip_address: r.private_ip_address.clone(),
        private_port: r.private_port,
        description: r.description.clone().unwrap_or_default(),
        created_ms: ctx.now_ms,
    })
}

fn existed(rule: &DnatRule) -> ApiError {
    ApiError::new(
        "InvalidParameterValue.NatGatewayDnatRuleExisted",
        format!(
            "A {} rule for {}:{} already exists.",
            rule.ip_protocol, rule.public_ip_address, rule.public_port
        ),
    )
}

fn not_exists(rule: &DnatRule) -> ApiError {
    ApiError::new(
        "InvalidParameterValue.NatGatewayDnatRuleNotExists",
        format!(
            "No {} rule {}:{} -> {}:{} exists.",
            rule.ip_protocol,
            rule.public_ip_address,
            rule.public_port,
            rule.private_ip_address,
            rule.private_port
        ),
    )
}

fn pip_exists(rule: &DnatRule) -> ApiError {
    ApiError::new(
        "UnsupportedOperation.NatGatewayRulePipExists",
        format!(
            "{} {}:{} is already the target of another DNAT rule.",
            rule.ip_protocol, rule.private_ip_address, rule.private_port
        ),
    )
}

fn checked_rules(ctx: &Ctx<'_>, req: &RulesRequest) -> ApiResult<Vec<DnatRule>> {
    let nat = ctx.nat_gateway(&req.nat_gateway_id)?;
    let inputs = &req.destination_ip_port_translation_nat_rules;
    if inputs.is_empty() {
        return Err(ApiError::invalid_value(format!(
            "`{RULES}` must not be empty."
        )));
    }
    let mut rules: Vec<DnatRule> = Vec::new();
    for (i, r) in inputs.iter().enumerate() {
        let rule = checked_rule(ctx, nat, r, &format!("{RULES}.{i}"))?;
        if rules.iter().any(|x| x.same_public_side(&rule)) {
            return Err(ApiError::new(
                "InvalidParameterValue.NatGatewayDnatRuleRepeated",
                format!(
                    "{}:{} appears twice in `{RULES}`.",
                    rule.public_ip_address, rule.public_port
                ),
            ));
        }
        rules.push(rule);
    }
    Ok(rules)
}

pub fn create(ctx: &mut Ctx<'_>, req: RulesRequest) -> ApiResult<Value> {
    let rules = checked_rules(ctx, &req)?;
    let limit = usize::try_from(ctx.settings.dnat_rule_limit).unwrap_or(usize::MAX);
    let unique_private = ctx.settings.dnat_create_checks_private_side;
    let nat = ctx.nat_gateway_for_write(&req.nat_gateway_id)?;
    if let Some(rule) = rules
        .iter()
        .find(|r| nat.dnat_rules.iter().any(|x| x.same_public_side(r)))
    {
        return Err(existed(rule));
    }
    if nat.dnat_rules.len() + rules.len() > limit {
        return Err(ApiError::new(
            "LimitExceeded.NatGatewayDnatLimitExceeded",
            format!(
                "NAT gateway {} has {} DNAT rules; {} more would exceed the limit of {limit}.",
                nat.nat_gateway_id,
                nat.dnat_rules.len(),
                rules.len()
            ),
        ));
    }
    let private_clash = rules.iter().enumerate().find_map(|(i, r)| {
        let clash = nat
            .dnat_rules
            .iter()
            .chain(&rules[..i])
            .any(|x| x.same_private_side(r));
        clash.then_some(r)
    });
    if unique_private && let Some(rule) = private_clash {
        return Err(pip_exists(rule));
    }
    nat.dnat_rules.extend(rules);
    ctx.nat_gateway_updated(&req.nat_gateway_id);
    Ok(json!({}))
}

pub fn delete(ctx: &mut Ctx<'_>, req: RulesRequest) -> ApiResult<Value> {
    let rules = checked_rules(ctx, &req)?;
    let nat = ctx.nat_gateway_for_write(&req.nat_gateway_id)?;
    if let Some(rule) = rules
        .iter()
        .find(|r| !nat.dnat_rules.iter().any(|x| x.same_rule(r)))
    {
        return Err(not_exists(rule));
    }
    nat.dnat_rules
        .retain(|x| !rules.iter().any(|r| r.same_rule(x)));
    ctx.nat_gateway_updated(&req.nat_gateway_id);
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyRequest {
    nat_gateway_id: String,
    source_nat_rule: RuleInput,
    destination_nat_rule: RuleInput,
}

pub fn modify(ctx: &mut Ctx<'_>, req: ModifyRequest) -> ApiResult<Value> {
    let nat = ctx.nat_gateway(&req.nat_gateway_id)?;
    let source = checked_rule(ctx, nat, &req.source_nat_rule, "SourceNatRule")?;
    let destination = checked_rule(ctx, nat, &req.destination_nat_rule, "DestinationNatRule")?;
    let nat = ctx.nat_gateway_for_write(&req.nat_gateway_id)?;
    let index = nat
        .dnat_rules
        .iter()
        .position(|x| x.same_rule(&source))
        .ok_or_else(|| not_exists(&source))?;
    let clash = nat
        .dnat_rules
        .iter()
        .enumerate()
        .any(|(i, x)| i != index && x.same_public_side(&destination));
    if clash {
        return Err(existed(&destination));
    }
    // The private side is someone else's (errors.go: "the private IP of the rule is bound by
    // another rule and cannot be bound again"); the SDK lists this code for Modify.
    let pip_clash = nat
        .dnat_rules
        .iter()
        .enumerate()
        .any(|(i, x)| i != index && x.same_private_side(&destination));
    if pip_clash {
        return Err(pip_exists(&destination));
    }
    let created_ms = nat.dnat_rules[index].created_ms;
    nat.dnat_rules[index] = DnatRule {
        created_ms,
        ..destination
    };
    ctx.nat_gateway_updated(&req.nat_gateway_id);
    Ok(json!({}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRulesRequest {
    nat_gateway_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<Filter>,
    offset: Option<i64>,
    limit: Option<i64>,
}

const FILTERS: [&str; 7] = [
    "nat-gateway-id",
    "vpc-id",
    "public-ip-address",
    "public-port",
    "private-ip-address",
    "private-port",
    "description",
];

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeRulesRequest) -> ApiResult<Value> {
    if req.nat_gateway_ids.is_some() && !req.filters.is_empty() {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            "`NatGatewayIds` and `Filters` cannot be given together.",
        ));
    }
    Filter::check_names(&req.filters, &FILTERS, "InvalidParameter.FilterInvalidKey")?;
    let f = &req.filters;
    let mut matching: Vec<(&NatGateway, &DnatRule)> = Vec::new();
    for nat in ctx.region.nat_gateways.values() {
        if req
            .nat_gateway_ids
            .as_ref()
            .is_some_and(|ids| !ids.contains(&nat.nat_gateway_id))
            || !Filter::matches(f, "nat-gateway-id", Some(&nat.nat_gateway_id))
            || !Filter::matches(f, "vpc-id", Some(&nat.vpc_id))
        {
            continue;
        }
        for rule in &nat.dnat_rules {
            let ok = Filter::matches(f, "public-ip-address", Some(&rule.public_ip_address))
                && Filter::matches(f, "public-port", Some(&rule.public_port.to_string()))
                && Filter::matches(f, "private-ip-address", Some(&rule.private_ip_address))
                && Filter::matches(f, "private-port", Some(&rule.private_port.to_string()))
                && Filter::matches(f, "description", Some(&rule.description));
            if ok {
                matching.push((nat, rule));
            }
        }
    }
    let total = matching.len();
    let set: Vec<Value> = page(matching, req.offset, req.limit, 100)?
        .into_iter()
        .map(|(nat, rule)| {
            let mut view = rule.view();
            view["NatGatewayId"] = json!(nat.nat_gateway_id);
            view["VpcId"] = json!(nat.vpc_id);
            view["CreatedTime"] = json!(vpc_time(rule.created_ms));
            view
        })
        .collect();
    Ok(json!({ "TotalCount": total, "NatGatewayDestinationIpPortTranslationNatRuleSet": set }))
}
