//! On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup and
//! RestoreTableFromBackup.
//!
//! - `b/<account>/<region>/<table name>/<suffix>` → [`Backup`]: the source table's
//!   definition and counts, keyed as its ARN (`…:table/<name>/backup/<suffix>`, the suffix
//!   being the creation time in milliseconds and a random part), so a table's backups list
//!   in the order they were made
//! - `k/<backup id>/<table key…>` → an item, as it was in the table
//! - `rn/<account>/<region>/<table name>` → [`Restore`]: a restore in progress and how far
//!   it has come
//!
//! A backup copies the table's items from one snapshot, a batch per transaction, and is
//! `AVAILABLE` once the last batch is in (CreateBackup answers then). A restore writes the
//! items into a new table a batch per transaction, recording in each how far it has come,
//! and the table appears, whole, with the last batch; until then its name is taken. Both
//! run again after a stop that interrupted them: a backup from a new snapshot, a restore
//! from the last batch it recorded.
//!
//! Point-in-time restores ([`crate::pitr`]) and imports ([`crate::import`]) restore the same
//! way, from a backup of their own that no listing shows: filled under a tombstone (so a
//! stop before the restore begins leaves it to be purged), and deleted once restored.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use brume_core::{AwsError, RequestContext, value::Timestamp};
use brume_storage::key::{self, Element};
use brume_storage::{Direction, KeyRange, KvPair, ReadView, Txn};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::control::{
    IndexInput, Throughput, backups_table_not_found, index_throughput, not_authorized, secondary_indexes,
    sse_description, throughput,
};
use crate::error::{invalid, validation};
use crate::pitr::{Before, ItemsAt};
use crate::table::{self, KEYSPACE, KeyAttr, Table, corrupt, decode_item};
use crate::{Ddb, table_name};

/// Items copied per storage transaction.
const COPY_BATCH: usize = 1000;

#[derive(Clone, Serialize, Deserialize)]
pub struct Backup {
    /// The prefix of its items.
    id: String,
    arn: String,
    name: String,
    created: f64,
    available: bool,
    /// The source table's definition when the backup was made.
    table: Table,
    items: i64,
    bytes: i64,
}

/// A restore in progress: the table it makes, the backup it reads, and the last of the
/// backup's item keys already written. A point-in-time restore reads a backup of its own,
/// `temporary`, deleted when it is done.
#[derive(Serialize, Deserialize)]
pub(crate) struct Restore {
    table: Table,
    backup: String,
    after: Option<Vec<u8>>,
    #[serde(default)]
    temporary: bool,
}

impl Restore {
    /// A restore from a backup made for it alone, deleted when it is done.
    pub(crate) fn temporary(table: Table, backup: String) -> Self {
        Restore { table, backup, after: None, temporary: true }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBackupInput {
    table_name: String,
    backup_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupArnInput {
    backup_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBackupsInput {
    table_name: Option<String>,
    limit: Option<usize>,
    time_range_lower_bound: Option<Timestamp>,
    time_range_upper_bound: Option<Timestamp>,
    exclusive_start_backup_arn: Option<String>,
    backup_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTableFromBackupInput {
    target_table_name: String,
    backup_arn: String,
    #[serde(flatten)]
    overrides: Overrides,
}

/// What a restore may set differently from its source.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Overrides {
    billing_mode_override: Option<String>,
    global_secondary_index_override: Option<Vec<IndexInput>>,
    local_secondary_index_override: Option<Vec<IndexInput>>,
    provisioned_throughput_override: Option<Throughput>,
    on_demand_throughput_override: Option<Json>,
    #[serde(rename = "SSESpecificationOverride")]
    sse_specification_override: Option<Json>,
}

/// The last part of a backup's, an export's or an import's ARN: its creation time in
/// milliseconds and a random part, so they list in the order they were made — also two
/// made in the same millisecond, the second taking the next one.
pub(crate) fn arn_suffix(now: f64) -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let ms = (now * 1000.0) as u64;
    let next = |last: u64| ms.max(last + 1);
    let last = LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(next(last))).unwrap_or_else(|l| l);
    let ms = next(last);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{ms:014}-{}", &random[..8])
}

fn backup_key(account: &str, region: &str, table: &str, suffix: &str) -> Vec<u8> {
    key::encode_strings_then(&["b", account, region, table, suffix], &[])
}

fn backups_of(account: &str, region: &str, table: Option<&str>) -> KeyRange {
    let mut parts: Vec<Element> = vec!["b".into(), account.into(), region.into()];
    parts.extend(table.map(Element::from));
    KeyRange::prefix(&key::encode(&parts))
}

pub(crate) fn items_prefix(id: &str) -> Vec<u8> {
    key::encode_strings_then(&["k", id], &[])
}

fn restore_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    key::encode_strings_then(&["rn", account, region, name], &[])
}

fn backup_not_found(arn: &str) -> AwsError {
    AwsError::new(400, "BackupNotFoundException", format!("Backup not found: {arn}"))
}

fn table_exists(name: &str) -> AwsError {
    AwsError::new(400, "TableAlreadyExistsException", format!("Table already exists: {name}"))
}

fn backup_in_use() -> AwsError {
    AwsError::new(
        400,
        "BackupInUseException",
        "There is another ongoing conflicting backup control plane operation on the table. The backup is either being created, deleted or restored to a table.",
    )
}

/// A backup's or an export's ARN (`…:table/<table>/<noun>/<suffix>`) as the key of its
/// record (`<kind>/<account>/<region>/<table>/<suffix>`), after checking it names one of
/// the caller's; `missing` answers an ARN that names none.
pub(crate) fn key_of_arn(
    ctx: &RequestContext,
    arn: &str,
    (noun, kind): (&str, &str),
    action: &str,
    missing: fn(&str) -> AwsError,
) -> Result<Vec<u8>, AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [_, _, "dynamodb", region, account, resource] = parts[..] else {
        return Err(missing(arn));
    };
    let Some((table, suffix)) =
        resource.strip_prefix("table/").and_then(|r| r.split_once(&format!("/{noun}/") as &str))
    else {
        return Err(missing(arn));
    };
    if account != ctx.account || region != ctx.region {
        return Err(not_authorized(ctx, arn, action));
    }
    Ok(key::encode_strings_then(&[kind, account, region, table, suffix], &[]))
}

/// The record key of backup `arn`.
fn backup_of_arn(ctx: &RequestContext, arn: &str, action: &str) -> Result<Vec<u8>, AwsError> {
    key_of_arn(ctx, arn, ("backup", "b"), action, backup_not_found)
}

pub(crate) fn load<T: for<'de> Deserialize<'de>>(view: &dyn ReadView, key: &[u8]) -> Result<Option<T>, AwsError> {
    view.get(KEYSPACE, key)?.map(|b| serde_json::from_slice(&b).map_err(|e| corrupt(&e))).transpose()
}

pub(crate) fn save<T: Serialize>(txn: &mut dyn Txn, key: &[u8], value: &T) -> Result<(), AwsError> {
    txn.put(KEYSPACE, key, &serde_json::to_vec(value).map_err(|e| corrupt(&e))?)?;
    Ok(())
}

/// Of the records of `kind` (`ex`, `im`: keyed as their ARNs) in the caller's account and
/// region — one table's, if named — from `start` on: up to `size`, and the next, if any.
pub(crate) fn page_of<T: for<'de> Deserialize<'de>>(
    view: &dyn ReadView,
    (kind, ctx, table): (&str, &RequestContext, Option<&str>),
    start: Option<Vec<u8>>,
    size: usize,
) -> Result<(Vec<T>, Option<T>), AwsError> {
    let mut parts = vec![kind, ctx.account.as_str(), ctx.region.as_str()];
    parts.extend(table);
    let mut range = KeyRange::prefix(&key::encode_strings_then(&parts, &[]));
    if let Some(start) = start {
        range.start = Bound::Included(start);
    }
    let mut page: Vec<T> = view
        .scan(KEYSPACE, &range, Direction::Forward, size + 1)?
        .iter()
        .map(|(_, bytes)| serde_json::from_slice(bytes).map_err(|e| corrupt(&e)))
        .collect::<Result<_, _>>()?;
    let next = (page.len() > size).then(|| page.pop()).flatten();
    Ok((page, next))
}

/// The record of `kind` in the caller's account and region that client token `token` made.
pub(crate) fn by_client_token<T: for<'de> Deserialize<'de>>(
    view: &dyn ReadView,
    (kind, ctx): (&str, &RequestContext),
    token: &str,
    token_of: impl Fn(&T) -> Option<&str>,
) -> Result<Option<T>, AwsError> {
    let mine = KeyRange::prefix(&key::encode_strings_then(&[kind, &ctx.account, &ctx.region], &[]));
    for (_, bytes) in view.scan(KEYSPACE, &mine, Direction::Forward, usize::MAX)? {
        let record: T = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
        if token_of(&record) == Some(token) {
            return Ok(Some(record));
        }
    }
    Ok(None)
}

/// `out` with the members of `fields` that have a value.
pub(crate) fn with_optional<const N: usize>(mut out: Json, fields: [(&str, Option<Json>); N]) -> Json {
    for (name, value) in fields {
        if let Some(value) = value {
            out[name] = value;
        }
    }
    out
}

/// Whether table `name` exists or is being made, by a restore or an import.
pub fn name_taken(view: &dyn ReadView, account: &str, region: &str, name: &str) -> Result<bool, AwsError> {
    Ok(table::load_table(view, account, region, name)?.is_some()
        || restoring(view, account, region, name)?
        || crate::import::importing(view, account, region, name)?)
}

/// Whether a restore is making table `name`.
pub fn restoring(view: &dyn ReadView, account: &str, region: &str, name: &str) -> Result<bool, AwsError> {
    Ok(view.get(KEYSPACE, &restore_key(account, region, name))?.is_some())
}

/// The part of `range` after `after`.
fn after(range: &KeyRange, after: Option<&Vec<u8>>) -> KeyRange {
    match after {
        Some(k) => KeyRange { start: Bound::Excluded(k.clone()), end: range.end.clone() },
        None => range.clone(),
    }
}

impl Backup {
    fn details(&self) -> Json {
        json!({
            "BackupArn": self.arn,
            "BackupName": self.name,
            "BackupSizeBytes": self.bytes,
            "BackupStatus": if self.available { "AVAILABLE" } else { "CREATING" },
            "BackupType": "USER",
            "BackupCreationDateTime": self.created,
        })
    }

    fn summary(&self) -> Json {
        let mut out = self.details();
        out["TableName"] = json!(self.table.name);
        out["TableId"] = json!(self.table.id);
        out["TableArn"] = json!(self.table.arn());
        out
    }

    fn description(&self) -> Json {
        let t = &self.table;
        let mut source = json!({
            "TableName": t.name,
            "TableId": t.id,
            "TableArn": t.arn(),
            "TableSizeBytes": self.bytes,
            "KeySchema": t.key.describe(),
            "TableCreationDateTime": t.created,
            "ProvisionedThroughput": {"ReadCapacityUnits": t.read, "WriteCapacityUnits": t.write},
            "ItemCount": self.items,
            "BillingMode": t.billing,
        });
        if let Some(limits) = &t.on_demand {
            source["OnDemandThroughput"] = limits.clone();
        }
        let index = |i: &table::Index, global: bool| {
            let mut out =
                json!({"IndexName": i.name, "KeySchema": i.key.describe(), "Projection": i.projection.describe()});
            if global {
                out["ProvisionedThroughput"] = json!({"ReadCapacityUnits": i.read, "WriteCapacityUnits": i.write});
            }
            out
        };
        let mut features = json!({});
        if !t.lsis.is_empty() {
            features["LocalSecondaryIndexes"] = t.lsis.iter().map(|i| index(i, false)).collect();
        }
        if !t.gsis.is_empty() {
            features["GlobalSecondaryIndexes"] = t.gsis.iter().map(|i| index(i, true)).collect();
        }
        if let Some(view) = &t.stream_view {
            features["StreamDescription"] = json!({"StreamEnabled": true, "StreamViewType": view});
        }
        if let Some(attribute) = &t.ttl_attribute {
            features["TimeToLiveDescription"] = json!({"TimeToLiveStatus": "ENABLED", "AttributeName": attribute});
        }
        if let Some(sse) = &t.sse {
            features["SSEDescription"] = sse.clone();
        }
        json!({"BackupDetails": self.details(), "SourceTableDetails": source, "SourceTableFeatureDetails": features})
    }
}

impl Ddb {
    pub async fn create_backup(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateBackupInput,
    ) -> Result<Json, AwsError> {
        let name = table_name(&input.table_name).to_string();
        // The items are copied from the snapshot the definition and counts come from.
        let snapshot = self.kv.snapshot()?;
        let source = table::load_table(&*snapshot, &ctx.account, &ctx.region, &name)?
            .ok_or_else(|| backups_table_not_found(&name))?;
        let stats = table::load_stats(&*snapshot, &source)?;
        let now = Timestamp::now().0;
        let suffix = arn_suffix(now);
        let backup = Backup {
            id: uuid::Uuid::new_v4().to_string(),
            arn: format!("{}/backup/{suffix}", source.arn()),
            name: input.backup_name,
            created: now,
            available: false,
            table: Arc::unwrap_or_clone(source),
            items: stats.items,
            bytes: stats.bytes,
        };
        let key = backup_key(&ctx.account, &ctx.region, &name, &suffix);
        let (k, b) = (key.clone(), backup.clone());
        self.kv.transact(move |txn: &mut dyn Txn| save(txn, &k, &b)).await?;
        // On a task of its own, so that a client going away does not leave it half made.
        let backup = tokio::spawn(self.fill(key, backup, snapshot)).await.map_err(|_| AwsError::internal())??;
        Ok(json!({ "BackupDetails": backup.details() }))
    }

    /// Copies the items of `backup`'s table from `snapshot` into the backup, then marks it
    /// available.
    async fn fill(
        self: Arc<Self>,
        key: Vec<u8>,
        mut backup: Backup,
        snapshot: Box<dyn ReadView>,
    ) -> Result<Backup, AwsError> {
        self.copy_items(&backup.table, &backup.id, &*snapshot, &Before::new()).await?;
        backup.available = true;
        let done = backup.clone();
        self.kv.transact(move |txn: &mut dyn Txn| save(txn, &key, &done)).await?;
        Ok(backup)
    }

    /// Copies the items of `table` in `snapshot` under backup id `id`, a batch per
    /// transaction, putting those in `before` as they were (or leaving them out).
    async fn copy_items(
        &self,
        table: &Table,
        id: &str,
        snapshot: &dyn ReadView,
        before: &Before,
    ) -> Result<(), AwsError> {
        let prefix = items_prefix(id);
        let mut items = ItemsAt::new(snapshot, table, before);
        while let Some(page) = items.next_page(COPY_BATCH)? {
            self.put_all(page.into_iter().map(|(k, v)| ([prefix.as_slice(), &k].concat(), v)).collect()).await?;
        }
        Ok(())
    }

    pub(crate) async fn put_all(&self, records: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), AwsError> {
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                for (k, v) in &records {
                    txn.put(KEYSPACE, k, v)?;
                }
                Ok::<_, AwsError>(())
            })
            .await
    }

    pub async fn describe_backup(
        self: Arc<Self>,
        ctx: RequestContext,
        input: BackupArnInput,
    ) -> Result<Json, AwsError> {
        let key = backup_of_arn(&ctx, &input.backup_arn, "DescribeBackup")?;
        let backup: Backup = load(&*self.kv, &key)?.ok_or_else(|| backup_not_found(&input.backup_arn))?;
        Ok(json!({ "BackupDescription": backup.description() }))
    }

    pub async fn list_backups(self: Arc<Self>, ctx: RequestContext, input: ListBackupsInput) -> Result<Json, AwsError> {
        let table = input.table_name.as_deref().map(table_name);
        let mut range = backups_of(&ctx.account, &ctx.region, table);
        if let Some(arn) = &input.exclusive_start_backup_arn {
            range.start = Bound::Excluded(backup_of_arn(&ctx, arn, "ListBackups")?);
        }
        // Every backup Brume makes is a USER one, the type listed by default.
        if matches!(input.backup_type.as_deref(), Some("SYSTEM" | "AWS_BACKUP")) {
            return Ok(json!({ "BackupSummaries": [] }));
        }
        // The front end keeps it within 1..=100.
        let limit = input.limit.unwrap_or(100);
        let in_range = |b: &Backup| {
            input.time_range_lower_bound.is_none_or(|t| b.created >= t.0)
                && input.time_range_upper_bound.is_none_or(|t| b.created < t.0)
        };
        let mut summaries = Vec::new();
        let mut more = false;
        for (_, bytes) in self.kv.scan(KEYSPACE, &range, Direction::Forward, usize::MAX)? {
            let backup: Backup = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
            if !in_range(&backup) {
                continue;
            }
            if summaries.len() == limit {
                more = true;
                break;
            }
            summaries.push(backup);
        }
        let mut out = json!({ "BackupSummaries": summaries.iter().map(Backup::summary).collect::<Vec<_>>() });
        if more {
            out["LastEvaluatedBackupArn"] = json!(summaries.last().map(|b| &b.arn));
        }
        Ok(out)
    }

    pub async fn delete_backup(self: Arc<Self>, ctx: RequestContext, input: BackupArnInput) -> Result<Json, AwsError> {
        let key = backup_of_arn(&ctx, &input.backup_arn, "DeleteBackup")?;
        let arn = input.backup_arn;
        let backup = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let backup: Backup = load(txn, &key)?.ok_or_else(|| backup_not_found(&arn))?;
                let restores = txn.scan(
                    KEYSPACE,
                    &KeyRange::prefix(&key::encode(&["rn".into()])),
                    Direction::Forward,
                    usize::MAX,
                )?;
                let mut restoring_from = false;
                for (_, bytes) in restores {
                    let restore: Restore = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
                    restoring_from |= restore.backup == backup.id;
                }
                if !backup.available || restoring_from {
                    return Err(backup_in_use());
                }
                txn.delete(KEYSPACE, &key)?;
                table::bury(txn, &backup.id)?;
                Ok(backup)
            })
            .await?;
        self.purge(backup.id.clone());
        let mut description = backup.description();
        description["BackupDetails"]["BackupStatus"] = json!("DELETED");
        Ok(json!({ "BackupDescription": description }))
    }

    pub async fn restore_table_from_backup(
        self: Arc<Self>,
        ctx: RequestContext,
        input: RestoreTableFromBackupInput,
    ) -> Result<Json, AwsError> {
        let key = backup_of_arn(&ctx, &input.backup_arn, "RestoreTableFromBackup")?;
        let backup: Backup = load(&*self.kv, &key)?.ok_or_else(|| backup_not_found(&input.backup_arn))?;
        if !backup.available {
            return Err(backup_in_use());
        }
        let summary = json!({
            "SourceBackupArn": backup.arn,
            "SourceTableArn": backup.table.arn(),
            "RestoreDateTime": backup.created,
            "RestoreInProgress": false,
        });
        let target = restored_table(&ctx, &backup.table, &input.target_table_name, summary, &input.overrides)?;
        let arn = input.backup_arn;
        let restore = Restore { table: target, backup: backup.id, after: None, temporary: false };
        let job = self
            .begin_restore(restore, false, move |txn| {
                // The backup may have been deleted since it was read.
                match txn.get(KEYSPACE, &key)? {
                    Some(_) => Ok(()),
                    None => Err(backup_not_found(&arn)),
                }
            })
            .await?;
        let table = tokio::spawn(self.clone().restore(job)).await.map_err(|_| AwsError::internal())??;
        Ok(json!({ "TableDescription": table::describe(&table, &table::load_stats(&*self.kv, &table)?, "ACTIVE") }))
    }

    /// Records `restore` as in progress, once `check` passes and its table's name is free
    /// (but for the import making it, when `importing`); answers where it is recorded.
    pub(crate) async fn begin_restore(
        &self,
        restore: Restore,
        importing: bool,
        check: impl FnOnce(&mut dyn Txn) -> Result<(), AwsError> + Send + 'static,
    ) -> Result<Vec<u8>, AwsError> {
        let t = &restore.table;
        let job = restore_key(&t.account, &t.region, &t.name);
        let k = job.clone();
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                check(txn)?;
                let t = &restore.table;
                let taken = match importing {
                    // The import making the table holds its name until now.
                    true => {
                        table::load_table(txn, &t.account, &t.region, &t.name)?.is_some()
                            || restoring(txn, &t.account, &t.region, &t.name)?
                    }
                    false => name_taken(txn, &t.account, &t.region, &t.name)?,
                };
                if taken {
                    return Err(table_exists(&t.name));
                }
                if restore.temporary {
                    table::unbury(txn, &restore.backup)?;
                }
                save(txn, &k, &restore)
            })
            .await?;
        Ok(job)
    }

    /// Restores `target` from `source` as it is in `snapshot`, with the items in `before`
    /// as they were: through a backup of its own, made first and deleted after.
    pub(crate) async fn restore_from_snapshot(
        self: Arc<Self>,
        source: Table,
        snapshot: Box<dyn ReadView>,
        before: Before,
        target: Table,
    ) -> Result<Table, AwsError> {
        if name_taken(&*self.kv, &target.account, &target.region, &target.name)? {
            return Err(table_exists(&target.name));
        }
        // Buried while it is made, so that a stop before the restore begins leaves nothing.
        let id = uuid::Uuid::new_v4().to_string();
        let buried = id.clone();
        self.kv.transact(move |txn: &mut dyn Txn| table::bury(txn, &buried)).await?;
        let state = self.clone();
        let copy = id.clone();
        tokio::spawn(async move { state.copy_items(&source, &copy, &*snapshot, &before).await })
            .await
            .map_err(|_| AwsError::internal())??;
        let restore = Restore::temporary(target, id.clone());
        let job = match self.begin_restore(restore, false, |_| Ok(())).await {
            Ok(job) => job,
            Err(e) => {
                self.purge(id);
                return Err(e);
            }
        };
        tokio::spawn(self.clone().restore(job)).await.map_err(|_| AwsError::internal())?
    }

    /// Writes the backup's items into the restored table a batch at a time, from where the
    /// restore recorded at `job` has come to; answers the table once it is there.
    pub(crate) async fn restore(self: Arc<Self>, job: Vec<u8>) -> Result<Table, AwsError> {
        loop {
            let job = job.clone();
            let done = self
                .kv
                .transact(move |txn: &mut dyn Txn| {
                    let mut restore: Restore = load(txn, &job)?.ok_or_else(AwsError::internal)?;
                    let prefix = items_prefix(&restore.backup);
                    let range = after(&KeyRange::prefix(&prefix), restore.after.as_ref());
                    let page = txn.scan(KEYSPACE, &range, Direction::Forward, COPY_BATCH)?;
                    for (k, v) in &page {
                        let key = key::decode(&k[prefix.len()..]).map_err(|e| corrupt(&e))?;
                        table::write_item(txn, &restore.table, &key, None, Some(&decode_item(v)?))?;
                    }
                    if page.len() == COPY_BATCH {
                        restore.after = page.last().map(|(k, _)| k.clone());
                        save(txn, &job, &restore)?;
                        return Ok(None);
                    }
                    table::save_table(txn, &restore.table)?;
                    txn.delete(KEYSPACE, &job)?;
                    if restore.temporary {
                        table::bury(txn, &restore.backup)?;
                    }
                    Ok::<_, AwsError>(Some(restore))
                })
                .await?;
            if let Some(restore) = done {
                if restore.temporary {
                    self.purge(restore.backup);
                }
                return Ok(restore.table);
            }
        }
    }

    /// Finishes the backups, restores, exports and imports a stop interrupted: a backup is
    /// made again from the table as it is now (or deleted, if its table is gone); a restore
    /// goes on from its last batch; an export runs again; so does an import whose restore
    /// had not begun.
    pub(crate) fn resume_backups(self: &Arc<Self>) {
        // What a stop left is what is in progress as the service starts: read it now,
        // before its first request can begin more (which its own task finishes).
        let all = |kind: &str| KeyRange::prefix(&key::encode(&[kind.into()]));
        let scan = |kind: &str| self.kv.scan(KEYSPACE, &all(kind), Direction::Forward, usize::MAX);
        let (restores, backups, exports, imports) = match (scan("rn"), scan("b"), scan("ex"), scan("im")) {
            (Ok(r), Ok(b), Ok(e), Ok(i)) => (r, b, e, i),
            _ => return tracing::warn!("could not read the backups, restores, exports and imports in progress"),
        };
        let state = self.clone();
        tokio::spawn(async move {
            if let Err(e) = state.resume(restores, backups).await {
                tracing::warn!(error = %e, "could not finish the backups and restores a stop interrupted");
            }
            if let Err(e) = state.resume_exports(exports).await {
                tracing::warn!(error = %e, "could not finish the exports a stop interrupted");
            }
            if let Err(e) = state.resume_imports(imports).await {
                tracing::warn!(error = %e, "could not finish the imports a stop interrupted");
            }
        });
    }

    async fn resume(self: &Arc<Self>, restores: Vec<KvPair>, backups: Vec<KvPair>) -> Result<(), AwsError> {
        for (job, _) in restores {
            self.clone().restore(job).await?;
        }
        for (key, bytes) in backups {
            let backup: Backup = serde_json::from_slice(&bytes).map_err(|e| corrupt(&e))?;
            if backup.available {
                continue;
            }
            self.purge_now(&backup.id).await?;
            let snapshot = self.kv.snapshot()?;
            let t = &backup.table;
            match table::load_table(&*snapshot, &t.account, &t.region, &t.name)? {
                Some(now) if now.id == t.id => {
                    self.clone().fill(key, backup, snapshot).await?;
                }
                _ => self.kv.transact(move |txn: &mut dyn Txn| Ok::<_, AwsError>(txn.delete(KEYSPACE, &key)?)).await?,
            }
        }
        Ok(())
    }
}

/// The table a restore makes, named `name`: the source's keys and indexes (or the indexes
/// the request names instead), billing and encryption as overridden. Tags, TTL, streams,
/// point-in-time recovery and deletion protection are not restored, as on AWS.
pub(crate) fn restored_table(
    ctx: &RequestContext,
    source: &Table,
    name: &str,
    summary: Json,
    input: &Overrides,
) -> Result<Table, AwsError> {
    let billing = input.billing_mode_override.clone().unwrap_or_else(|| source.billing.clone());
    let (read, write) = match (billing.as_str(), input.provisioned_throughput_override) {
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        ("PAY_PER_REQUEST", None) => (0, 0),
        (_, Some(t)) => throughput(t),
        (_, None) if source.billing == "PROVISIONED" => (source.read, source.write),
        (_, None) => return Err(validation("No provisioned throughput specified for the table")),
    };
    let defs = source.attributes.iter().map(|a| (a.name.clone(), a.ty.clone())).collect();
    let (overridden_lsis, overridden_gsis, _) = secondary_indexes(
        &source.key,
        &defs,
        &billing,
        (read, write),
        input.local_secondary_index_override.as_deref(),
        input.global_secondary_index_override.as_deref(),
    )?;
    let lsis = match &input.local_secondary_index_override {
        Some(_) => overridden_lsis,
        None => source.lsis.iter().map(|i| table::Index { read, write, ..i.clone() }).collect(),
    };
    let gsis = match &input.global_secondary_index_override {
        Some(_) => overridden_gsis,
        None => source
            .gsis
            .iter()
            .map(|i| {
                let kept = (billing == source.billing && billing == "PROVISIONED").then_some((i.read, i.write));
                let (read, write) = match kept {
                    Some(units) => units,
                    None => index_throughput(&billing, None, &i.name)?,
                };
                Ok(table::Index { read, write, ..i.clone() })
            })
            .collect::<Result<_, AwsError>>()?,
    };
    let mut used: Vec<&str> = source.key.names();
    used.extend(lsis.iter().chain(&gsis).flat_map(|i| i.key.names()));
    let attributes: Vec<KeyAttr> =
        source.attributes.iter().filter(|a| used.contains(&a.name.as_str())).cloned().collect();
    let now = Timestamp::now().0;
    Ok(Table {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        name: name.to_string(),
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        attributes,
        key: source.key.clone(),
        billing,
        read,
        write,
        billing_switched: None,
        gsis,
        lsis,
        stream_view: None,
        stream_label: None,
        tags: Default::default(),
        deletion_protection: false,
        ttl_attribute: None,
        sse: match &input.sse_specification_override {
            Some(spec) => sse_description(ctx, spec),
            None => source.sse.clone(),
        },
        table_class: source.table_class.clone(),
        pitr: None,
        on_demand: input.on_demand_throughput_override.clone().or_else(|| source.on_demand.clone()),
        restored: Some(summary),
        policy: None,
        stream_policy: None,
        replicas: vec![],
        sourced_replica: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::table;
    use crate::value::{Item, Value};
    use brume_storage::Storage;

    fn scan(kv: &dyn ReadView, kind: &str) -> Vec<KvPair> {
        kv.scan(KEYSPACE, &KeyRange::prefix(&key::encode(&[kind.into()])), Direction::Forward, usize::MAX).unwrap()
    }

    fn count(kv: &dyn ReadView, prefix: &[u8]) -> usize {
        kv.scan(KEYSPACE, &KeyRange::prefix(prefix), Direction::Forward, usize::MAX).unwrap().len()
    }

    #[test]
    fn suffixes_made_in_one_millisecond_still_order() {
        let suffixes: Vec<String> = (0..50).map(|_| arn_suffix(1.0)).collect();
        assert!(suffixes.windows(2).all(|w| w[0][..14] < w[1][..14]), "{suffixes:?}");
    }

    /// A stop left a backup half made (with a record its table no longer has) and a
    /// restore one batch in; starting again makes the backup anew and finishes the restore.
    #[tokio::test]
    async fn interrupted_backups_and_restores_are_finished() {
        let kv = Storage::in_memory().kv;
        let ddb = crate::tests::ddb(kv.clone());
        let source = table();
        let items = 2 * COPY_BATCH + 5;
        let backup = Backup {
            id: "backup-1".into(),
            arn: format!("{}/backup/00000000000001-0000abcd", source.arn()),
            name: "b".into(),
            created: 1.0,
            available: false,
            table: source.clone(),
            items: 0,
            bytes: 0,
        };
        let key = backup_key(&source.account, &source.region, &source.name, "00000000000001-0000abcd");
        let (t, k, b) = (source.clone(), key.clone(), backup.clone());
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            table::save_table(txn, &t)?;
            for i in 0..items {
                let item: Item =
                    [("pk".to_string(), Value::S(format!("k{i:05}"))), ("g".to_string(), Value::S("g".into()))].into();
                let key = t.check_item_key(&item)?;
                table::write_item(txn, &t, &key, None, Some(&item))?;
            }
            save(txn, &k, &b)?;
            txn.put(KEYSPACE, &[items_prefix(&b.id), key::encode(&[Element::String("gone".into())])].concat(), b"{}")?;
            Ok(())
        })
        .await
        .unwrap();

        ddb.resume(scan(&*kv, "rn"), scan(&*kv, "b")).await.unwrap();
        let made: Backup = load(&*kv, &key).unwrap().unwrap();
        assert!(made.available);
        assert_eq!(count(&*kv, &items_prefix("backup-1")), items);

        // A restore that wrote its first batch before the stop.
        let mut target = Table { name: "restored".into(), id: "id-2".into(), ..source.clone() };
        target.ttl_attribute = None;
        let job = restore_key(&target.account, &target.region, &target.name);
        let (j, t) = (job.clone(), target.clone());
        kv.transact(move |txn: &mut dyn Txn| -> Result<(), AwsError> {
            let first =
                txn.scan(KEYSPACE, &KeyRange::prefix(&items_prefix("backup-1")), Direction::Forward, COPY_BATCH)?;
            for (k, v) in &first {
                let key = key::decode(&k[items_prefix("backup-1").len()..]).map_err(|e| corrupt(&e))?;
                table::write_item(txn, &t, &key, None, Some(&decode_item(v)?))?;
            }
            let after = first.last().map(|(k, _)| k.clone());
            save(txn, &j, &Restore { table: t, backup: "backup-1".into(), after, temporary: false })
        })
        .await
        .unwrap();
        assert!(restoring(&*kv, &target.account, &target.region, "restored").unwrap());

        ddb.resume(scan(&*kv, "rn"), scan(&*kv, "b")).await.unwrap();
        assert!(!restoring(&*kv, &target.account, &target.region, "restored").unwrap());
        let restored = table::load_table(&*kv, &target.account, &target.region, "restored").unwrap().unwrap();
        let stats = table::load_stats(&*kv, &restored).unwrap();
        assert_eq!((stats.items as usize, stats.indexes["by-g"].0 as usize), (items, items));
        assert_eq!(count(&*kv, &key::encode_strings_then(&["i", "id-2"], &[])), items);
    }
}
