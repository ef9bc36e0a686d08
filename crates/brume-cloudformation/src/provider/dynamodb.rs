//! AWS::DynamoDB::Table through DynamoDB. Ref is the table's name. Billing, throughput,
//! streams, global secondary indexes, TTL, point-in-time recovery, deletion protection,
//! the resource policy and tags change in place; a new name, key schema or local indexes replace the table.
//!
//! AWS::DynamoDB::GlobalTable (what CDK's `TableV2` makes) is that table in the stack's
//! region, plus a replica in each other region of `Replicas`: each replica's properties
//! are read as a table's, its own (tags, protection, recovery, class, read capacity,
//! policy) from its `ReplicaSpecification`, and the shared ones changed in the stack's
//! region reach the others through DynamoDB.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Map, Value, json};

use super::{
    Provider, Provisioned, Request, boolean, call, changed, copy, document, ignore_gone, number, provisioned, tag_list,
};

pub(super) struct Table;

/// `ProvisionedThroughput` with its units as numbers.
fn throughput(v: &Value) -> Value {
    let mut out = Map::new();
    for unit in ["ReadCapacityUnits", "WriteCapacityUnits"] {
        if let Some(n) = v.get(unit).and_then(number) {
            out.insert(unit.into(), n);
        }
    }
    Value::Object(out)
}

/// A secondary index as CreateTable takes it (CloudFormation's extra members left out).
fn index(v: &Value) -> Value {
    let mut out = copy(v, &["IndexName", "KeySchema", "Projection", "OnDemandThroughput"]);
    if let Some(t) = v.get("ProvisionedThroughput") {
        out.insert("ProvisionedThroughput".into(), throughput(t));
    }
    Value::Object(out)
}

fn indexes(properties: &Value, name: &str) -> Vec<Value> {
    properties.get(name).and_then(Value::as_array).map(|l| l.iter().map(index).collect()).unwrap_or_default()
}

/// `StreamSpecification` as DynamoDB takes it: enabled with its view type.
fn stream(properties: &Value) -> Option<Value> {
    let view = properties.pointer("/StreamSpecification/StreamViewType")?;
    Some(json!({ "StreamEnabled": true, "StreamViewType": view }))
}

/// CloudFormation's `SSESpecification` (`SSEEnabled`) as DynamoDB's (`Enabled`).
fn sse(properties: &Value) -> Option<Value> {
    let spec = properties.get("SSESpecification").filter(|v| !v.is_null())?;
    let mut out = copy(spec, &["SSEType", "KMSMasterKeyId"]);
    out.insert("Enabled".into(), json!(spec.get("SSEEnabled").and_then(boolean).unwrap_or(false)));
    Some(Value::Object(out))
}

/// The CreateTable input of the properties.
fn create_input(request: &Request<'_>, name: &str) -> Value {
    let p = request.properties;
    let mut input = copy(p, &["AttributeDefinitions", "KeySchema", "BillingMode", "TableClass", "OnDemandThroughput"]);
    input.insert("TableName".into(), json!(name));
    if let Some(policy) = request.properties.pointer("/ResourcePolicy/PolicyDocument") {
        input.insert("ResourcePolicy".into(), json!(document(policy)));
    }
    if let Some(t) = request.prop("ProvisionedThroughput") {
        input.insert("ProvisionedThroughput".into(), throughput(t));
    }
    for list in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if request.prop(list).is_some() {
            input.insert(list.into(), Value::Array(indexes(p, list)));
        }
    }
    if let Some(s) = stream(p) {
        input.insert("StreamSpecification".into(), s);
    }
    if let Some(s) = sse(p) {
        input.insert("SSESpecification".into(), s);
    }
    if let Some(d) = request.prop("DeletionProtectionEnabled").and_then(boolean) {
        input.insert("DeletionProtectionEnabled".into(), json!(d));
    }
    input.insert("Tags".into(), super::tag_objects(&request.tags()));
    Value::Object(input)
}

async fn answer(sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<Provisioned, AwsError> {
    described(sdk, request, name, false).await
}

/// The table's `Fn::GetAtt` attributes, with its `TableId` for a global table.
async fn described(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    name: &str,
    with_id: bool,
) -> Result<Provisioned, AwsError> {
    let out = call(sdk, request, "dynamodb", "DescribeTable", json!({ "TableName": name })).await?;
    let table = &out["Table"];
    let mut attributes = json!({ "Arn": table["TableArn"] });
    if with_id {
        attributes["TableId"] = table["TableId"].clone();
    }
    if let Some(stream) = table.get("LatestStreamArn").filter(|v| !v.is_null()) {
        attributes["StreamArn"] = stream.clone();
    }
    Ok(provisioned(name, attributes))
}

/// TimeToLiveSpecification applied: its own when given, the old one's attribute disabled
/// when removed.
async fn time_to_live(
    sdk: &dyn AwsSdkClient,
    request: &Request<'_>,
    name: &str,
    old: Option<&Value>,
) -> Result<(), AwsError> {
    let spec = match (request.prop("TimeToLiveSpecification"), old.and_then(|o| o.get("TimeToLiveSpecification"))) {
        (Some(now), _) => json!({
            "AttributeName": now["AttributeName"],
            "Enabled": now.get("Enabled").and_then(boolean).unwrap_or(false),
        }),
        (None, Some(before)) if before.get("Enabled").and_then(boolean) == Some(true) => {
            json!({ "AttributeName": before["AttributeName"], "Enabled": false })
        }
        _ => return Ok(()),
    };
    let input = json!({ "TableName": name, "TimeToLiveSpecification": spec });
    call(sdk, request, "dynamodb", "UpdateTimeToLive", input).await.map(|_| ())
}

async fn point_in_time_recovery(sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
    let spec = request.properties.get("PointInTimeRecoverySpecification");
    let enabled = spec.and_then(|s| s.get("PointInTimeRecoveryEnabled")).and_then(boolean).unwrap_or(false);
    let mut recovery = json!({ "PointInTimeRecoveryEnabled": enabled });
    if let Some(days) = spec.and_then(|s| s.get("RecoveryPeriodInDays")).and_then(number).filter(|_| enabled) {
        recovery["RecoveryPeriodInDays"] = days;
    }
    let input = json!({ "TableName": name, "PointInTimeRecoverySpecification": recovery });
    call(sdk, request, "dynamodb", "UpdateContinuousBackups", input).await.map(|_| ())
}

/// The UpdateTable calls going from `old` to the request's properties needs, one global
/// secondary index change per call as DynamoDB requires.
fn table_updates(old: &Value, new: &Value, name: &str) -> Vec<Value> {
    let mut updates = Vec::new();
    let mut settings = Map::new();
    if changed(old, new, &["BillingMode", "ProvisionedThroughput"]) {
        let billing = new.get("BillingMode").and_then(Value::as_str).unwrap_or("PROVISIONED");
        settings.insert("BillingMode".into(), json!(billing));
        if billing == "PROVISIONED"
            && let Some(t) = new.get("ProvisionedThroughput")
        {
            settings.insert("ProvisionedThroughput".into(), throughput(t));
        }
    }
    if changed(old, new, &["SSESpecification"]) {
        settings.insert("SSESpecification".into(), sse(new).unwrap_or_else(|| json!({ "Enabled": false })));
    }
    if changed(old, new, &["TableClass"]) {
        settings.insert("TableClass".into(), new.get("TableClass").cloned().unwrap_or_else(|| json!("STANDARD")));
    }
    if changed(old, new, &["DeletionProtectionEnabled"]) {
        let d = new.get("DeletionProtectionEnabled").and_then(boolean).unwrap_or(false);
        settings.insert("DeletionProtectionEnabled".into(), json!(d));
    }
    if !settings.is_empty() {
        settings.insert("TableName".into(), json!(name));
        updates.push(Value::Object(settings));
    }
    let (before, now) = (stream(old), stream(new));
    if before != now {
        if before.is_some() {
            updates.push(json!({ "TableName": name, "StreamSpecification": { "StreamEnabled": false } }));
        }
        if let Some(s) = now {
            updates.push(json!({ "TableName": name, "StreamSpecification": s }));
        }
    }
    let (before, now) = (indexes(old, "GlobalSecondaryIndexes"), indexes(new, "GlobalSecondaryIndexes"));
    let named = |list: &[Value], n: &Value| list.iter().find(|i| i["IndexName"] == *n).cloned();
    for gone in before.iter().filter(|i| named(&now, &i["IndexName"]).is_none()) {
        let update = json!({ "Delete": { "IndexName": gone["IndexName"] } });
        updates.push(json!({ "TableName": name, "GlobalSecondaryIndexUpdates": [update] }));
    }
    for index in &now {
        match named(&before, &index["IndexName"]) {
            None => updates.push(json!({
                "TableName": name,
                "AttributeDefinitions": new["AttributeDefinitions"],
                "GlobalSecondaryIndexUpdates": [{ "Create": index }],
            })),
            Some(b)
                if b["ProvisionedThroughput"] != index["ProvisionedThroughput"]
                    && index.get("ProvisionedThroughput").is_some() =>
            {
                let update =
                    json!({ "IndexName": index["IndexName"], "ProvisionedThroughput": index["ProvisionedThroughput"] });
                updates.push(json!({ "TableName": name, "GlobalSecondaryIndexUpdates": [{ "Update": update }] }));
            }
            Some(_) => {}
        }
    }
    updates
}

#[async_trait::async_trait]
impl Provider for Table {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("TableName").unwrap_or_else(|| request.generated_name(255));
        call(sdk, request, "dynamodb", "CreateTable", create_input(request, &name)).await?;
        time_to_live(sdk, request, &name, None).await?;
        if request.prop("PointInTimeRecoverySpecification").is_some() {
            point_in_time_recovery(sdk, request, &name).await?;
        }
        answer(sdk, request, &name).await
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        for input in table_updates(old, request.properties, name) {
            call(sdk, request, "dynamodb", "UpdateTable", input).await?;
        }
        if changed(old, request.properties, &["TimeToLiveSpecification"]) {
            time_to_live(sdk, request, name, Some(old)).await?;
        }
        if changed(old, request.properties, &["PointInTimeRecoverySpecification"]) {
            point_in_time_recovery(sdk, request, name).await?;
        }
        let provisioned = answer(sdk, request, name).await?;
        let arn = provisioned.attributes["Arn"].clone();
        if changed(old, request.properties, &["ResourcePolicy"]) {
            match request.properties.pointer("/ResourcePolicy/PolicyDocument") {
                Some(policy) => {
                    let input = json!({ "ResourceArn": arn, "Policy": document(policy) });
                    call(sdk, request, "dynamodb", "PutResourcePolicy", input).await?;
                }
                None => {
                    let input = json!({ "ResourceArn": arn });
                    ignore_gone(call(sdk, request, "dynamodb", "DeleteResourcePolicy", input).await)?;
                }
            }
        }
        let tags = request.tags();
        let removed: Vec<String> = tag_list(old.get("Tags"))
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !tags.iter().any(|(n, _)| n == k))
            .collect();
        if !removed.is_empty() {
            call(sdk, request, "dynamodb", "UntagResource", json!({ "ResourceArn": arn, "TagKeys": removed })).await?;
        }
        let input = json!({ "ResourceArn": arn, "Tags": super::tag_objects(&tags) });
        call(sdk, request, "dynamodb", "TagResource", input).await?;
        Ok(provisioned)
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        ignore_gone(call(sdk, request, "dynamodb", "DeleteTable", json!({ "TableName": name })).await)
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["TableName", "KeySchema", "LocalSecondaryIndexes"])
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        request.name_or_generated("TableName", 255)
    }
}

/// AWS::DynamoDB::GlobalTable.
pub(super) struct GlobalTable;

/// The regions of `Replicas`.
fn replica_regions(p: &Value) -> Vec<String> {
    p.get("Replicas")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(|r| r.get("Region").and_then(super::text)).collect())
        .unwrap_or_default()
}

/// Capacity units of CloudFormation's `*ProvisionedThroughputSettings`: the fixed number,
/// or the autoscaling minimum (Brume does not scale).
fn units(settings: Option<&Value>, fixed: &str, scaling: &str) -> Option<Value> {
    let s = settings?;
    s.get(fixed).and_then(number).or_else(|| s.get(scaling)?.get("MinCapacity").and_then(number))
}

/// The properties of the replica in `region`, as an AWS::DynamoDB::Table's.
fn as_table(p: &Value, region: &str) -> Value {
    let empty = json!({});
    let replica = p
        .get("Replicas")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|r| r.get("Region").and_then(super::text).as_deref() == Some(region)))
        .unwrap_or(&empty);
    let mut out = copy(
        p,
        &[
            "TableName",
            "AttributeDefinitions",
            "KeySchema",
            "LocalSecondaryIndexes",
            "StreamSpecification",
            "TimeToLiveSpecification",
        ],
    );
    out.extend(copy(
        replica,
        &["Tags", "DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "TableClass", "ResourcePolicy"],
    ));
    let billing = p.get("BillingMode").and_then(super::text).unwrap_or_else(|| "PROVISIONED".into());
    let provisioned = billing == "PROVISIONED";
    out.insert("BillingMode".into(), json!(billing));
    let throughput = |write: Option<&Value>, read: Option<&Value>| {
        let write = units(write, "WriteCapacityUnits", "WriteCapacityAutoScalingSettings");
        let read = units(read, "ReadCapacityUnits", "ReadCapacityAutoScalingSettings").or_else(|| write.clone());
        json!({ "ReadCapacityUnits": read, "WriteCapacityUnits": write })
    };
    if provisioned {
        out.insert(
            "ProvisionedThroughput".into(),
            throughput(p.get("WriteProvisionedThroughputSettings"), replica.get("ReadProvisionedThroughputSettings")),
        );
    }
    if let Some(list) = p.get("GlobalSecondaryIndexes").and_then(Value::as_array) {
        let own = |name: &Value| {
            replica.get("GlobalSecondaryIndexes")?.as_array()?.iter().find(|i| i.get("IndexName") == Some(name))
        };
        let indexes = list.iter().map(|i| {
            let mut index = copy(i, &["IndexName", "KeySchema", "Projection"]);
            if provisioned {
                let read = i.get("IndexName").and_then(own).and_then(|o| o.get("ReadProvisionedThroughputSettings"));
                index.insert(
                    "ProvisionedThroughput".into(),
                    throughput(i.get("WriteProvisionedThroughputSettings"), read),
                );
            }
            Value::Object(index)
        });
        out.insert("GlobalSecondaryIndexes".into(), indexes.collect());
    }
    if let Some(spec) = p.get("SSESpecification").filter(|v| !v.is_null()) {
        let mut sse = copy(spec, &["SSEEnabled", "SSEType"]);
        sse.extend(replica.get("SSESpecification").map(|r| copy(r, &["KMSMasterKeyId"])).unwrap_or_default());
        out.insert("SSESpecification".into(), Value::Object(sse));
    }
    let mut limits = Map::new();
    if let Some(n) = p.pointer("/WriteOnDemandThroughputSettings/MaxWriteRequestUnits").and_then(number) {
        limits.insert("MaxWriteRequestUnits".into(), n);
    }
    if let Some(n) = replica.pointer("/ReadOnDemandThroughputSettings/MaxReadRequestUnits").and_then(number) {
        limits.insert("MaxReadRequestUnits".into(), n);
    }
    if !limits.is_empty() {
        out.insert("OnDemandThroughput".into(), Value::Object(limits));
    }
    Value::Object(out)
}

/// The properties a replica in another region has just after its creation: the shared
/// ones of `now`, its class and key (given at creation), and none of its other own
/// settings.
fn as_created(now: &Value) -> Value {
    let mut out = now.clone();
    if let Some(o) = out.as_object_mut() {
        for own in ["Tags", "DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "ResourcePolicy"] {
            o.remove(own);
        }
    }
    out
}

/// `now`'s shared settings with `before`'s own ones: what a replica in another region
/// has once the shared changes have reached it.
fn own_from(now: &Value, before: &Value) -> Value {
    let mut out = now.clone();
    for own in ["Tags", "DeletionProtectionEnabled", "PointInTimeRecoverySpecification", "ResourcePolicy", "TableClass"]
    {
        match before.get(own) {
            Some(v) => out[own] = v.clone(),
            None => {
                out.as_object_mut().map(|o| o.remove(own));
            }
        }
    }
    out
}

impl GlobalTable {
    /// Adds the replica in `region` and gives it its own settings.
    async fn add_replica(
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        region: &str,
    ) -> Result<(), AwsError> {
        let there = as_table(request.properties, region);
        let mut create = json!({ "RegionName": region });
        if let Some(class) = there.get("TableClass") {
            create["TableClassOverride"] = class.clone();
        }
        if let Some(key) = there.pointer("/SSESpecification/KMSMasterKeyId") {
            create["KMSMasterKeyId"] = key.clone();
        }
        let input = json!({ "TableName": name, "ReplicaUpdates": [{ "Create": create }] });
        call(sdk, request, "dynamodb", "UpdateTable", input).await?;
        let remote = Request { region, properties: &there, ..*request };
        Table.update(sdk, &remote, name, &as_created(&there)).await.map(|_| ())
    }
}

#[async_trait::async_trait]
impl Provider for GlobalTable {
    async fn create(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let regions = replica_regions(request.properties);
        if !regions.iter().any(|r| r == request.region) {
            return Err(AwsError::new(
                400,
                "ValidationException",
                "Invalid request provided: The Replicas section must contain an entry for the current region",
            ));
        }
        let here = as_table(request.properties, request.region);
        let provisioned = Table.create(sdk, &Request { properties: &here, ..*request }).await?;
        for region in regions.iter().filter(|r| *r != request.region) {
            Self::add_replica(sdk, request, &provisioned.physical_id, region).await?;
        }
        described(sdk, request, &provisioned.physical_id, true).await
    }

    async fn update(
        &self,
        sdk: &dyn AwsSdkClient,
        request: &Request<'_>,
        name: &str,
        old: &Value,
    ) -> Result<Provisioned, AwsError> {
        let (before, now) = (replica_regions(old), replica_regions(request.properties));
        for gone in before.iter().filter(|r| !now.contains(r) && *r != request.region) {
            let input = json!({ "TableName": name, "ReplicaUpdates": [{ "Delete": { "RegionName": gone } }] });
            call(sdk, request, "dynamodb", "UpdateTable", input).await?;
        }
        let here = as_table(request.properties, request.region);
        Table.update(sdk, &Request { properties: &here, ..*request }, name, &as_table(old, request.region)).await?;
        for region in now.iter().filter(|r| *r != request.region) {
            if before.contains(region) {
                let there = as_table(request.properties, region);
                let remote = Request { region, properties: &there, ..*request };
                Table.update(sdk, &remote, name, &own_from(&there, &as_table(old, region))).await?;
            } else {
                Self::add_replica(sdk, request, name, region).await?;
            }
        }
        described(sdk, request, name, true).await
    }

    async fn delete(&self, sdk: &dyn AwsSdkClient, request: &Request<'_>, name: &str) -> Result<(), AwsError> {
        for region in replica_regions(request.properties).iter().filter(|r| *r != request.region) {
            let remote = Request { region, ..*request };
            ignore_gone(call(sdk, &remote, "dynamodb", "DeleteTable", json!({ "TableName": name })).await)?;
        }
        Table.delete(sdk, request, name).await
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        Table.replaces(old, new)
    }

    fn generated_id(&self, request: &Request<'_>) -> Option<String> {
        Table.generated_id(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn properties_become_create_table_input() {
        let props = json!({
            "AttributeDefinitions": [{ "AttributeName": "pk", "AttributeType": "S" }],
            "KeySchema": [{ "AttributeName": "pk", "KeyType": "HASH" }],
            "ProvisionedThroughput": { "ReadCapacityUnits": "5", "WriteCapacityUnits": 2 },
            "StreamSpecification": { "StreamViewType": "NEW_IMAGE" },
            "SSESpecification": { "SSEEnabled": true },
            "GlobalSecondaryIndexes": [{ "IndexName": "g", "KeySchema": [], "Projection": { "ProjectionType": "ALL" },
                "ContributorInsightsSpecification": { "Enabled": true } }],
        });
        let input = create_input(&request(&props, &[]), "t");
        assert_eq!(input["TableName"], "t");
        assert_eq!(input["ProvisionedThroughput"], json!({ "ReadCapacityUnits": 5, "WriteCapacityUnits": 2 }));
        assert_eq!(input["StreamSpecification"], json!({ "StreamEnabled": true, "StreamViewType": "NEW_IMAGE" }));
        assert_eq!(input["SSESpecification"], json!({ "Enabled": true }));
        assert!(input["GlobalSecondaryIndexes"][0].get("ContributorInsightsSpecification").is_none());
        assert_eq!(input["Tags"][0]["Key"], "aws:cloudformation:stack-name");
    }

    #[test]
    fn updates_change_billing_streams_and_one_index_at_a_time() {
        let old = json!({ "BillingMode": "PROVISIONED", "ProvisionedThroughput": { "ReadCapacityUnits": 1, "WriteCapacityUnits": 1 },
            "StreamSpecification": { "StreamViewType": "KEYS_ONLY" },
            "GlobalSecondaryIndexes": [{ "IndexName": "a" }] });
        let new = json!({ "BillingMode": "PAY_PER_REQUEST", "StreamSpecification": { "StreamViewType": "NEW_IMAGE" },
            "AttributeDefinitions": [], "GlobalSecondaryIndexes": [{ "IndexName": "b" }] });
        let u = table_updates(&old, &new, "t");
        assert_eq!(u[0], json!({ "BillingMode": "PAY_PER_REQUEST", "TableName": "t" }));
        assert_eq!(u[1]["StreamSpecification"], json!({ "StreamEnabled": false }));
        assert_eq!(u[2]["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
        assert_eq!(u[3]["GlobalSecondaryIndexUpdates"][0]["Delete"]["IndexName"], "a");
        assert_eq!(u[4]["GlobalSecondaryIndexUpdates"][0]["Create"]["IndexName"], "b");
        assert_eq!(u.len(), 5);
    }

    #[test]
    fn a_global_table_replica_reads_as_a_table() {
        let props = json!({
            "TableName": "t", "KeySchema": [], "AttributeDefinitions": [],
            "BillingMode": "PROVISIONED",
            "WriteProvisionedThroughputSettings": { "WriteCapacityAutoScalingSettings": { "MinCapacity": "3", "MaxCapacity": 9 } },
            "GlobalSecondaryIndexes": [{ "IndexName": "g", "KeySchema": [], "Projection": {},
                "WriteProvisionedThroughputSettings": { "WriteCapacityAutoScalingSettings": { "MinCapacity": 2 } } }],
            "SSESpecification": { "SSEEnabled": true, "SSEType": "KMS" },
            "Replicas": [
                { "Region": "eu-west-1", "ReadProvisionedThroughputSettings": { "ReadCapacityUnits": 7 },
                  "SSESpecification": { "KMSMasterKeyId": "alias/k" }, "DeletionProtectionEnabled": true,
                  "GlobalSecondaryIndexes": [{ "IndexName": "g",
                      "ReadProvisionedThroughputSettings": { "ReadCapacityAutoScalingSettings": { "MinCapacity": 4 } } }] },
                { "Region": "us-east-1", "Tags": [{ "Key": "k", "Value": "v" }] },
            ],
        });
        assert_eq!(replica_regions(&props), ["eu-west-1", "us-east-1"]);
        let west = as_table(&props, "eu-west-1");
        assert_eq!(west["ProvisionedThroughput"], json!({ "ReadCapacityUnits": 7, "WriteCapacityUnits": 3 }));
        assert_eq!(
            west["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"],
            json!({ "ReadCapacityUnits": 4, "WriteCapacityUnits": 2 })
        );
        assert_eq!(
            west["SSESpecification"],
            json!({ "SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": "alias/k" })
        );
        assert_eq!((&west["DeletionProtectionEnabled"], west.get("Tags")), (&json!(true), None));
        // A replica without read settings reads what it writes.
        let east = as_table(&props, "us-east-1");
        assert_eq!(east["ProvisionedThroughput"], json!({ "ReadCapacityUnits": 3, "WriteCapacityUnits": 3 }));
        assert_eq!(east["Tags"][0]["Key"], "k");
        // Once created, a replica has the shared settings and none of its own but class and reads.
        let created = as_created(&west);
        assert!(created.get("DeletionProtectionEnabled").is_none());
        assert_eq!(created["ProvisionedThroughput"], west["ProvisionedThroughput"]);
        let mut before = west.clone();
        before["TableClass"] = json!("STANDARD");
        before.as_object_mut().unwrap().remove("DeletionProtectionEnabled");
        let own = own_from(&west, &before);
        assert_eq!(own["TableClass"], "STANDARD");
        assert!(own.get("DeletionProtectionEnabled").is_none());
    }

    #[test]
    fn name_key_schema_and_local_indexes_replace() {
        assert!(Table.replaces(&json!({ "KeySchema": [1] }), &json!({ "KeySchema": [2] })));
        assert!(Table.replaces(&json!({}), &json!({ "LocalSecondaryIndexes": [] })));
        assert!(!Table.replaces(&json!({ "BillingMode": "A" }), &json!({ "BillingMode": "B" })));
    }
}
