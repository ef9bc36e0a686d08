//! Global tables: replicas of a table in other regions of its account. Version 2019.11.21
//! adds and removes them with UpdateTable's `ReplicaUpdates`.
//!
//! Every region lives in Brume's one store, so a write to any replica is applied to the
//! others in the write's own transaction: replication without lag and without conflicts
//! to resolve, and each replica's stream records the change, as on AWS. The settings
//! DynamoDB keeps the same across replicas (billing, write capacity, secondary indexes,
//! TTL, encryption, on-demand limits) are copied to the others whenever one changes; the
//! rest (read capacity, table class, tags, deletion protection, backups, policies) are
//! each replica's own.

use std::sync::Arc;

use brume_core::{AwsError, RequestContext, looks_like_region};
use brume_storage::key::{self, Element};
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::control::kms_key_arn;
use crate::error::{invalid, validation};
use crate::stream::{self, Writer};
use crate::table::{self, KEYSPACE, Table, corrupt, decode_item};
use crate::{Ddb, backup};

/// The version UpdateTable's replicas make.
const CURRENT: &str = "2019.11.21";

/// The view type every replica's stream has.
const VIEW: &str = "NEW_AND_OLD_IMAGES";

/// One of UpdateTable's `ReplicaUpdates`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaUpdate {
    create: Option<ReplicaSpec>,
    update: Option<ReplicaSpec>,
    delete: Option<ReplicaSpec>,
}

/// What a replica action names: its region, and for Create and Update the settings that
/// are the replica's own (its table class and KMS key; Brume's global tables are all
/// on-demand, so there are no read capacities to override).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaSpec {
    region_name: String,
    #[serde(rename = "KMSMasterKeyId")]
    kms_master_key_id: Option<String>,
    table_class_override: Option<String>,
}

impl ReplicaSpec {
    fn apply(&self, replica: &mut Table) {
        if let Some(class) = &self.table_class_override {
            replica.table_class = Some(class.clone());
        }
        if let (Some(key), Some(sse)) = (&self.kms_master_key_id, &mut replica.sse) {
            sse["KMSMasterKeyArn"] = json!(kms_key_arn(key, &replica.region, &replica.account));
        }
    }
}

/// `sse` (a table's SSEDescription) as a replica in `region` has it: the same
/// encryption, with `own` key when it has one, else the same key's name in its region.
fn replica_sse(sse: Option<&Json>, own: Option<&Json>, from: &str, region: &str) -> Option<Json> {
    let mut sse = sse?.clone();
    let key = match own.and_then(|o| o.get("KMSMasterKeyArn")) {
        Some(k) => k.clone(),
        None => {
            json!(sse["KMSMasterKeyArn"].as_str().map(|k| k.replacen(&format!(":{from}:"), &format!(":{region}:"), 1)))
        }
    };
    sse["KMSMasterKeyArn"] = key;
    Some(sse)
}

/// AWS gives a provisioned table a replica only with write autoscaling, which Brume does
/// not have.
fn provisioned_refused() -> AwsError {
    validation("Table write capacity should either be Pay-Per-Request or AutoScaled.")
}

/// Applies a write just made to `table`'s item at `key` to the table's other replicas.
pub fn replicate(
    txn: &mut dyn Txn,
    table: &Table,
    key: &[Element],
    new: Option<&crate::value::Item>,
) -> Result<(), AwsError> {
    for region in &table.replicas {
        let Some(peer) = table::load_table(txn, &table.account, region, &table.name)? else {
            continue;
        };
        let old = table::get_item(txn, &peer, key)?;
        // A replicated TTL deletion names no one in the other regions' streams.
        table::write_here(txn, &peer, key, old.as_ref(), new, Writer::Client)?;
    }
    Ok(())
}

/// The other replicas of `table`, as stored.
fn peers(txn: &dyn Txn, table: &Table) -> Result<Vec<Table>, AwsError> {
    let mut out = Vec::with_capacity(table.replicas.len());
    for region in &table.replicas {
        if let Some(peer) = table::load_table(txn, &table.account, region, &table.name)? {
            out.push(Arc::unwrap_or_clone(peer));
        }
    }
    Ok(out)
}

/// Applies UpdateTable's `ReplicaUpdates` to `table` (changed in memory, saved by the
/// caller). Answers the ids of the replicas deleted, whose items are left to the purge.
pub fn update_replicas(
    txn: &mut dyn Txn,
    table: &mut Table,
    updates: &[ReplicaUpdate],
    now: f64,
) -> Result<Vec<String>, AwsError> {
    let update = match updates {
        [] => return Ok(Vec::new()),
        [one] => one,
        _ => return Err(invalid("Only one replica can be created, updated or deleted per UpdateTable request")),
    };
    let spec = [&update.create, &update.update, &update.delete].into_iter().flatten().next();
    if spec.is_some_and(|s| s.region_name == table.region) {
        return Err(validation(
            "Cannot add, delete, or update the local region through ReplicaUpdates. Use CreateTable, DeleteTable, or UpdateTable as required.",
        ));
    }
    match (&update.create, &update.update, &update.delete) {
        (Some(spec), None, None) => add(txn, table, spec, now)?,
        (None, Some(spec), None) => {
            let mut peer = peer_in(txn, table, &spec.region_name)?;
            spec.apply(&mut peer);
            table::save_table(txn, &peer)?;
        }
        (None, None, Some(spec)) => {
            let peer = peer_in(txn, table, &spec.region_name)?;
            check_delete(&peer, now)?;
            table::drop_table(txn, &peer, now)?;
            leave(txn, table, &spec.region_name)?;
            return Ok(vec![peer.id]);
        }
        _ => return Err(invalid("Only one of Create, Update or Delete can be specified in a ReplicaUpdate")),
    }
    Ok(Vec::new())
}

/// The replica of `table` in `region`, which must be one.
fn peer_in(txn: &dyn Txn, table: &Table, region: &str) -> Result<Table, AwsError> {
    let missing = || {
        validation(
            "Update global table operation failed because one or more replicas were not part of the global table.",
        )
    };
    if !table.replicas.iter().any(|r| r == region) {
        return Err(missing());
    }
    Ok(Arc::unwrap_or_clone(table::load_table(txn, &table.account, region, &table.name)?.ok_or_else(missing)?))
}

/// Makes a replica of `table` in the region `spec` names: the table's definition and
/// items, a stream of new and old images, and every other replica told of it.
fn add(txn: &mut dyn Txn, table: &mut Table, spec: &ReplicaSpec, now: f64) -> Result<(), AwsError> {
    let region = spec.region_name.as_str();
    if !looks_like_region(region) {
        return Err(validation(format!("Provided region_name '{region}' is not a valid AWS region")));
    }
    if table.billing == "PROVISIONED" {
        return Err(provisioned_refused());
    }
    // A table being restored or imported under the name holds it already, as on AWS.
    if table.replicas.iter().any(|r| r == region) || backup::name_taken(txn, &table.account, region, &table.name)? {
        return Err(validation(
            "Failed to create a the new replica of table because one or more replicas already existed as tables.",
        ));
    }
    // DynamoDB turns the stream on for the first replica; a stream of another view type
    // stays as it is.
    if table.stream_view.is_none() {
        let at = stream::unused_moment(txn, table, now)?;
        table.stream_view = Some(VIEW.to_string());
        table.stream_label = Some(stream::label(at));
        table.stream_policy = None;
        stream::open(txn, table, at)?;
    }
    table.sourced_replica = Some(now);
    let mut group: Vec<String> = table.replicas.clone();
    group.push(table.region.clone());
    let mut replica = Table {
        region: region.to_string(),
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        stream_view: Some(VIEW.to_string()),
        stream_label: Some(stream::label(now)),
        sourced_replica: None,
        tags: Default::default(),
        deletion_protection: false,
        pitr: None,
        restored: None,
        policy: None,
        stream_policy: None,
        replicas: group.clone(),
        sse: replica_sse(table.sse.as_ref(), None, &table.region, region),
        ..table.clone()
    };
    spec.apply(&mut replica);
    table::save_table(txn, &replica)?;
    stream::open(txn, &replica, now)?;
    // The copy of the items the replica starts with is not a change its stream records.
    let quiet = Table { stream_view: None, ..replica.clone() };
    for (k, bytes) in txn.scan(KEYSPACE, &table::items_of(table), Direction::Forward, usize::MAX)? {
        let base = key::decode(&k).map_err(|e| corrupt(&e))?.split_off(2);
        table::write_here(txn, &quiet, &base, None, Some(&decode_item(&bytes)?), Writer::Client)?;
    }
    for mut peer in peers(txn, table)? {
        peer.replicas.push(region.to_string());
        table::save_table(txn, &peer)?;
    }
    table.replicas.push(region.to_string());
    Ok(())
}

/// Takes `region` out of the global table `table` is a replica of.
pub fn leave(txn: &mut dyn Txn, table: &mut Table, region: &str) -> Result<(), AwsError> {
    table.replicas.retain(|r| r != region);
    for mut peer in peers(txn, table)? {
        peer.replicas.retain(|r| r != region);
        table::save_table(txn, &peer)?;
    }
    Ok(())
}

/// Copies the settings DynamoDB keeps the same across replicas from `table` to its other
/// replicas: billing, write capacity, secondary indexes (built or dropped), TTL,
/// encryption and on-demand limits.
pub fn sync_settings(txn: &mut dyn Txn, table: &Table) -> Result<(), AwsError> {
    if table.billing == "PROVISIONED" && !table.replicas.is_empty() {
        return Err(provisioned_refused());
    }
    for mut peer in peers(txn, table)? {
        if peer.billing != table.billing {
            peer.billing = table.billing.clone();
            peer.billing_switched = table.billing_switched;
            peer.read = table.read;
        }
        peer.write = table.write;
        peer.attributes = table.attributes.clone();
        let gone: Vec<String> = peer.gsis.iter().filter(|g| !table.is_gsi(&g.name)).map(|g| g.name.clone()).collect();
        for name in gone {
            peer.gsis.retain(|g| g.name != name);
            table::drop_index(txn, &peer, &name)?;
        }
        let mut built = Vec::new();
        for gsi in &table.gsis {
            match peer.gsis.iter_mut().find(|g| g.name == gsi.name) {
                Some(mine) => mine.write = gsi.write,
                None => {
                    peer.gsis.push(gsi.clone());
                    built.push(gsi.clone());
                }
            }
        }
        let ttl_changed = peer.ttl_attribute != table.ttl_attribute;
        peer.ttl_attribute = table.ttl_attribute.clone();
        peer.sse = replica_sse(table.sse.as_ref(), peer.sse.as_ref(), &table.region, &peer.region);
        peer.on_demand = table.on_demand.clone();
        table::save_table(txn, &peer)?;
        for gsi in &built {
            table::backfill(txn, &peer, gsi)?;
        }
        if ttl_changed {
            table::reindex_expiries(txn, &peer)?;
        }
    }
    Ok(())
}

/// DescribeTable's `GlobalTableVersion` and `Replicas` (every region of the global table,
/// this one among them) of a replica of a global table.
pub fn describe(table: &Table, out: &mut Json) {
    if table.replicas.is_empty() {
        return;
    }
    let mut regions: Vec<&String> = table.replicas.iter().chain([&table.region]).collect();
    regions.sort();
    out["GlobalTableVersion"] = json!(CURRENT);
    out["Replicas"] =
        regions.into_iter().map(|region| json!({"RegionName": region, "ReplicaStatus": "ACTIVE"})).collect();
}

/// How long a table that was the source of a new replica cannot be deleted.
const SOURCE_HOLD: f64 = 24.0 * 3600.0;

/// Refuses to delete a table protected against deletion, or a replica that was the source
/// of a new replica in the last day, as DynamoDB does.
pub fn check_delete(table: &Table, now: f64) -> Result<(), AwsError> {
    if table.deletion_protection {
        return Err(validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    match table.sourced_replica {
        Some(at) if !table.replicas.is_empty() && now - at < SOURCE_HOLD => Err(validation(
            "Replica cannot be deleted because it has acted as a source region for new replica(s) being added to the table in the last 24 hours.",
        )),
        _ => Ok(()),
    }
}

/// The legacy operations' input: the global table's name.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GlobalTableNameInput {
    global_table_name: String,
}

fn global_table_not_found(name: &str) -> AwsError {
    AwsError::new(400, "GlobalTableNotFoundException", format!("Global table with name '{name}' does not exist."))
}

/// The legacy global tables (version 2017.11.29) as DynamoDB answers them today: it makes
/// no new ones, and a table with 2019.11.21 replicas is not one.
impl Ddb {
    pub async fn create_global_table(self: Arc<Self>, _ctx: RequestContext, _input: Json) -> Result<Json, AwsError> {
        Err(validation(
            "DynamoDB global tables version 2017.11.29 is not supported. We recommend using DynamoDB global tables version 2019.11.21, instead of version 2017.11.29 (Legacy).",
        ))
    }

    pub async fn list_global_tables(self: Arc<Self>, _ctx: RequestContext, _input: Json) -> Result<Json, AwsError> {
        Ok(json!({ "GlobalTables": [] }))
    }

    /// DescribeGlobalTable, UpdateGlobalTable and their Settings pair.
    pub async fn legacy_global_table(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: GlobalTableNameInput,
    ) -> Result<Json, AwsError> {
        Err(global_table_not_found(&input.global_table_name))
    }
}

#[cfg(test)]
mod tests {
    use brume_storage::Storage;

    use super::*;
    use crate::table::tests::table;
    use crate::value::{Item, Value};

    fn item(pk: &str, g: &str) -> Item {
        [("pk".to_string(), Value::S(pk.into())), ("g".to_string(), Value::S(g.into()))].into()
    }

    fn create(region: &str) -> ReplicaUpdate {
        let spec = ReplicaSpec {
            region_name: region.into(),
            kms_master_key_id: None,
            table_class_override: Some("STANDARD_INFREQUENT_ACCESS".into()),
        };
        ReplicaUpdate { create: Some(spec), update: None, delete: None }
    }

    fn load(txn: &dyn Txn, region: &str) -> Table {
        Arc::unwrap_or_clone(table::load_table(txn, "000000000000", region, "t").unwrap().unwrap())
    }

    /// Items and the GSI's entries of the table in `region`, with its counts.
    fn contents(txn: &dyn Txn, region: &str) -> (Vec<Item>, i64, usize) {
        let t = load(txn, region);
        let items: Vec<Item> = txn
            .scan(KEYSPACE, &table::items_of(&t), Direction::Forward, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(_, b)| decode_item(&b).unwrap())
            .collect();
        let prefix = key::encode(&table::index_prefix(&t, "by-g"));
        let entries = txn.scan(KEYSPACE, &brume_storage::KeyRange::prefix(&prefix), Direction::Forward, usize::MAX);
        (items, table::load_stats(txn, &t).unwrap().items, entries.unwrap().len())
    }

    #[tokio::test]
    async fn a_replica_starts_with_the_items_and_takes_every_later_write() {
        let kv = Storage::in_memory().kv;
        kv.transact(|txn: &mut dyn Txn| -> Result<(), AwsError> {
            let mut t = table();
            t.sse = Some(json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": "arn:aws:kms:us-east-1:000000000000:key/k"}));
            table::save_table(txn, &t)?;
            let a = item("a", "x");
            table::write_item(txn, &t, &t.check_item_key(&a)?, None, Some(&a))?;
            assert!(update_replicas(txn, &mut t, &[create("eu-west-1")], 5.0)?.is_empty());
            table::save_table(txn, &t)?;
            let west = load(txn, "eu-west-1");
            assert_eq!(
                (west.replicas.clone(), t.replicas.clone()),
                (vec!["us-east-1".into()], vec!["eu-west-1".into()])
            );
            assert_eq!(west.table_class.as_deref(), Some("STANDARD_INFREQUENT_ACCESS"));
            assert_eq!((t.stream_view.as_deref(), west.stream_view.as_deref()), (Some(VIEW), Some(VIEW)));
            assert_ne!(west.id, t.id);
            // The same key's name, in the replica's region.
            assert_eq!(west.sse.as_ref().unwrap()["KMSMasterKeyArn"], "arn:aws:kms:eu-west-1:000000000000:key/k");
            assert_eq!(contents(txn, "eu-west-1"), (vec![a.clone()], 1, 1));

            // A write to either side reaches the other; so does a delete.
            let b = item("b", "y");
            table::write_item(txn, &west, &west.check_item_key(&b)?, None, Some(&b))?;
            assert_eq!(contents(txn, "us-east-1"), (vec![a.clone(), b.clone()], 2, 2));
            table::write_item(txn, &t, &t.check_item_key(&a)?, Some(&a), None)?;
            assert_eq!(contents(txn, "eu-west-1"), (vec![b.clone()], 1, 1));
            Ok(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn replicas_share_indexes_and_ttl_and_leave_one_another() {
        let kv = Storage::in_memory().kv;
        kv.transact(|txn: &mut dyn Txn| -> Result<(), AwsError> {
            let mut t = table();
            table::save_table(txn, &t)?;
            update_replicas(txn, &mut t, &[create("eu-west-1")], 5.0)?;
            update_replicas(txn, &mut t, &[create("ap-south-1")], 6.0)?;
            table::save_table(txn, &t)?;
            assert_eq!(load(txn, "eu-west-1").replicas, ["us-east-1", "ap-south-1"]);
            let mut out = json!({});
            describe(&load(txn, "ap-south-1"), &mut out);
            let regions: Vec<&str> =
                out["Replicas"].as_array().unwrap().iter().map(|r| r["RegionName"].as_str().unwrap()).collect();
            assert_eq!(
                (regions, &out["GlobalTableVersion"]),
                (vec!["ap-south-1", "eu-west-1", "us-east-1"], &json!(CURRENT))
            );

            // The index dropped and the TTL attribute changed in one region reach the others.
            t.gsis.clear();
            t.ttl_attribute = Some("other".into());
            table::save_table(txn, &t)?;
            sync_settings(txn, &t)?;
            let west = load(txn, "eu-west-1");
            assert!(west.gsis.is_empty());
            assert_eq!(west.ttl_attribute.as_deref(), Some("other"));

            // The last replica to go leaves a table that is no longer global.
            let delete = |r: &str| ReplicaUpdate {
                create: None,
                update: None,
                delete: Some(ReplicaSpec {
                    region_name: r.into(),
                    kms_master_key_id: None,
                    table_class_override: None,
                }),
            };
            assert_eq!(update_replicas(txn, &mut t, &[delete("eu-west-1")], 7.0)?, vec![west.id.clone()]);
            assert!(table::load_table(txn, "000000000000", "eu-west-1", "t")?.is_none());
            assert_eq!(load(txn, "ap-south-1").replicas, ["us-east-1"]);
            update_replicas(txn, &mut t, &[delete("ap-south-1")], 8.0)?;
            assert!(t.replicas.is_empty());
            let mut out = json!({});
            describe(&t, &mut out);
            assert_eq!(out, json!({}));
            let err = update_replicas(txn, &mut t, &[delete("ap-south-1")], 9.0).unwrap_err();
            assert!(err.message.contains("were not part of the global table"), "{}", err.message);
            Ok(())
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn the_local_region_an_existing_table_and_provisioned_tables_get_no_replica() {
        let kv = Storage::in_memory().kv;
        kv.transact(|txn: &mut dyn Txn| -> Result<(), AwsError> {
            let mut t = table();
            let message = |r: Result<Vec<String>, AwsError>| r.unwrap_err().message;
            assert!(message(update_replicas(txn, &mut t, &[create("us-east-1")], 1.0)).contains("local region"));
            assert!(message(update_replicas(txn, &mut t, &[create("nowhere")], 1.0)).contains("not a valid"));
            table::save_table(txn, &Table { region: "eu-west-1".into(), id: "other".into(), ..table() })?;
            assert!(
                message(update_replicas(txn, &mut t, &[create("eu-west-1")], 1.0))
                    .contains("already existed as tables")
            );
            t.billing = "PROVISIONED".into();
            assert!(message(update_replicas(txn, &mut t, &[create("ap-south-1")], 1.0)).contains("AutoScaled"));
            assert!(t.replicas.is_empty() && t.stream_view.is_none());
            Ok(())
        })
        .await
        .unwrap();
    }
}
