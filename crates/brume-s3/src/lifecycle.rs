//! Lifecycle rules that act: current objects expire after `Days` (counted, as S3 does, to
//! the next midnight UTC after creation plus the days) or on `Date`, noncurrent versions
//! after `NoncurrentDays`, expired delete markers are removed, and multipart uploads are
//! aborted `DaysAfterInitiation` days after they began. Transitions change an object's
//! storage class on the same days (only ever to a colder class, and not for objects under
//! 128 KiB unless the bucket or the rule says otherwise, as S3 does); an object moved to an
//! archive class must then be restored to be read ([`crate::archive`]). Expirations and
//! transitions send their `LifecycleExpiration:*` and `LifecycleTransition` events, made by
//! S3.
//!
//! [`S3::apply_lifecycle`] makes one pass over every bucket with rules; the binary runs it
//! periodically, and `POST /_brume/jobs/s3-lifecycle` runs it at once.

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::json;

use crate::delete::DeletedBy;
use crate::notification::{self, Details};
use crate::table::{self, Bucket, KEYSPACE, Version};
use crate::{S3, error, multipart};

const LIFECYCLE: DeletedBy = DeletedBy::Lifecycle;

const DAY: f64 = 86_400.0;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Configuration {
    rules: Vec<Rule>,
    transition_default_minimum_object_size: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Rule {
    status: String,
    prefix: Option<String>,
    filter: Option<Filter>,
    expiration: Option<Expiration>,
    noncurrent_version_expiration: Option<NoncurrentExpiration>,
    abort_incomplete_multipart_upload: Option<AbortIncomplete>,
    transitions: Vec<Transition>,
    noncurrent_version_transitions: Vec<NoncurrentTransition>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Filter {
    prefix: Option<String>,
    tag: Option<Tag>,
    and: Option<And>,
    object_size_greater_than: Option<u64>,
    object_size_less_than: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct And {
    prefix: Option<String>,
    tags: Vec<Tag>,
    object_size_greater_than: Option<u64>,
    object_size_less_than: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Transition {
    days: Option<i64>,
    date: Option<Timestamp>,
    storage_class: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NoncurrentTransition {
    noncurrent_days: Option<i64>,
    storage_class: String,
    newer_noncurrent_versions: Option<usize>,
}

/// The storage classes from warmest to coldest: lifecycle moves objects down this list
/// only. Classes not in it (STANDARD, REDUCED_REDUNDANCY) are warmer than all.
const COLDER: [&str; 6] = ["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];

fn coldness(class: Option<&str>) -> usize {
    class.and_then(|c| COLDER.iter().position(|x| *x == c)).map_or(0, |i| i + 1)
}

/// Objects smaller than this do not transition by default (S3's
/// `all_storage_classes_128K`); `varies_by_storage_class` lets them go to the archive
/// classes.
const SMALLEST_TRANSITION: u64 = 128 * 1024;

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
struct Tag {
    key: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Expiration {
    days: Option<i64>,
    date: Option<Timestamp>,
    expired_object_delete_marker: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NoncurrentExpiration {
    noncurrent_days: Option<i64>,
    newer_noncurrent_versions: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AbortIncomplete {
    days_after_initiation: Option<i64>,
}

impl Rule {
    fn prefix(&self) -> String {
        let f = self.filter.as_ref();
        f.and_then(|f| f.prefix.clone().or_else(|| f.and.as_ref().and_then(|a| a.prefix.clone())))
            .or_else(|| self.prefix.clone())
            .unwrap_or_default()
    }

    fn tags(&self) -> Vec<Tag> {
        let f = self.filter.as_ref();
        f.and_then(|f| f.tag.clone().map(|t| vec![t]).or_else(|| f.and.as_ref().map(|a| a.tags.clone())))
            .unwrap_or_default()
    }

    /// The rule's object size bounds: greater than, less than.
    fn sizes(&self) -> (Option<u64>, Option<u64>) {
        match &self.filter {
            Some(Filter { and: Some(a), .. }) => (a.object_size_greater_than, a.object_size_less_than),
            Some(f) => (f.object_size_greater_than, f.object_size_less_than),
            None => (None, None),
        }
    }

    fn matches(&self, v: &Version) -> bool {
        let (above, below) = self.sizes();
        v.key.starts_with(&self.prefix())
            && self.tags().iter().all(|t| v.tags.iter().any(|(k, val)| *k == t.key && *val == t.value))
            && above.is_none_or(|n| v.size > n)
            && below.is_none_or(|n| v.size < n)
    }

    /// Whether a noncurrent version that became so at `since`, with `newer` noncurrent
    /// versions newer than it, expires by `now`: after `NoncurrentDays`, and only when more
    /// than `NewerNoncurrentVersions` are newer.
    fn noncurrent_expires(&self, since: f64, now: f64, newer: usize) -> bool {
        self.noncurrent_version_expiration.as_ref().is_some_and(|n| {
            n.newer_noncurrent_versions.is_none_or(|keep| newer >= keep)
                && n.noncurrent_days.is_some_and(|days| expires_at(since, days) <= now)
        })
    }

    /// The coldest class a transition of this rule due by `now` moves `v` to, counted from
    /// `since` (its creation, or for a noncurrent version when it became so); `None` when
    /// none is due or `v` is there already. A noncurrent version (`newer`: how many
    /// noncurrent versions are newer, `None` for the current one) moves only when more
    /// than the transition's `NewerNoncurrentVersions` are. Small objects stay, unless the
    /// rule bounds sizes itself or `small_to_archive` lets them go to the archive classes.
    fn transition(
        &self,
        v: &Version,
        since: f64,
        now: f64,
        newer: Option<usize>,
        small_to_archive: bool,
    ) -> Option<String> {
        let due: Vec<&str> = if let Some(newer) = newer {
            self.noncurrent_version_transitions
                .iter()
                .filter(|t| t.noncurrent_days.is_some_and(|days| expires_at(since, days) <= now))
                .filter(|t| t.newer_noncurrent_versions.is_none_or(|keep| newer >= keep))
                .map(|t| t.storage_class.as_str())
                .collect()
        } else {
            self.transitions
                .iter()
                .filter(|t| match (t.days, t.date) {
                    (Some(days), _) => expires_at(since, days) <= now,
                    (None, Some(date)) => date.0 <= now,
                    _ => false,
                })
                .map(|t| t.storage_class.as_str())
                .collect()
        };
        let target = due.into_iter().max_by_key(|c| coldness(Some(c)))?;
        let small = v.size < SMALLEST_TRANSITION && self.sizes() == (None, None);
        let allowed = !small || (small_to_archive && ["GLACIER", "DEEP_ARCHIVE"].contains(&target));
        (allowed && coldness(Some(target)) > coldness(v.storage_class.as_deref())).then(|| target.to_string())
    }
}

/// Checks a lifecycle configuration as S3 does before storing it: transitions to the
/// infrequent-access classes come 30 days or more after creation, and dates are at
/// midnight UTC.
pub(crate) fn validate(put: crate::config::Put<'_>) -> Result<(), AwsError> {
    let config: Configuration = serde_json::from_value(put.config.clone()).map_err(|_| error::malformed_xml())?;
    for rule in &config.rules {
        let ages = rule.transitions.iter().map(|t| ("Days", "Transition", t.days, &t.storage_class));
        let noncurrent = rule
            .noncurrent_version_transitions
            .iter()
            .map(|t| ("NoncurrentDays", "NoncurrentVersionTransition", t.noncurrent_days, &t.storage_class));
        for (member, action, days, class) in ages.chain(noncurrent) {
            if days.is_some_and(|d| d < 30) && ["STANDARD_IA", "ONEZONE_IA"].contains(&class.as_str()) {
                return Err(AwsError::new(
                    400,
                    "InvalidArgument",
                    format!(
                        "'{member}' in {action} action must be greater than or equal to 30 for storageClass '{class}'"
                    ),
                ));
            }
        }
        let dates = rule.transitions.iter().filter_map(|t| t.date).chain(rule.expiration.as_ref().and_then(|e| e.date));
        for date in dates {
            if date.0 % DAY != 0.0 {
                return Err(error::invalid_argument("'Date' must be at midnight GMT", "Date", &date.iso8601()));
            }
        }
    }
    Ok(())
}

/// When an object created at `created` expires after `days`: S3 adds the days and rounds
/// up to the next midnight UTC.
pub(crate) fn expires_at(created: f64, days: i64) -> f64 {
    ((created / DAY).floor() + 1.0 + days as f64) * DAY
}

impl S3 {
    /// One pass of every bucket's lifecycle rules at time `now`; returns how many objects,
    /// versions, markers and uploads it removed, and versions it moved to another class.
    pub async fn apply_lifecycle(&self, now: Timestamp) -> Result<usize, AwsError> {
        let mut removed = 0;
        for (_, v) in self.kv.scan(KEYSPACE, &table::all_buckets(), Direction::Forward, usize::MAX)? {
            let bucket: Bucket = table::decode(&v)?;
            let Some(config) = bucket.config.get("lifecycle") else { continue };
            let config: Configuration = serde_json::from_value(config.clone()).unwrap_or_default();
            let small_to_archive =
                config.transition_default_minimum_object_size.as_deref() == Some("varies_by_storage_class");
            for rule in config.rules.iter().filter(|r| r.status == "Enabled") {
                removed += self.apply_rule(&bucket, rule, now.0, small_to_archive).await?;
            }
        }
        Ok(removed)
    }

    async fn apply_rule(
        &self,
        bucket: &Bucket,
        rule: &Rule,
        now: f64,
        small_to_archive: bool,
    ) -> Result<usize, AwsError> {
        let ctx = RequestContext::new(bucket.account.clone(), bucket.region.clone());
        let mut removed = 0;
        let prefix = rule.prefix();
        // The listing gives a key's versions together, newest first: each key is judged on
        // its own versions as the listing reads on, holding no more than one key's.
        let mut versions_of_key: Vec<Version> = Vec::new();
        for listed in table::Versions::new(self.kv.as_ref(), &bucket.name, &prefix, &prefix) {
            let v = listed?.version;
            if versions_of_key.first().is_some_and(|first| first.key != v.key) {
                removed += self
                    .apply_to_versions(
                        &ctx,
                        bucket,
                        rule,
                        (now, small_to_archive),
                        &std::mem::take(&mut versions_of_key),
                    )
                    .await?;
            }
            versions_of_key.push(v);
        }
        if !versions_of_key.is_empty() {
            removed += self.apply_to_versions(&ctx, bucket, rule, (now, small_to_archive), &versions_of_key).await?;
        }
        if let Some(days) = rule.abort_incomplete_multipart_upload.as_ref().and_then(|a| a.days_after_initiation) {
            for upload in multipart::uploads_of(self.kv.as_ref(), &bucket.name, usize::MAX)? {
                if upload.key.starts_with(&prefix) && expires_at(upload.initiated, days) <= now {
                    self.abort_upload(&upload.bucket, &upload.key, &upload.upload_id).await?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Applies `rule` to the versions of one key, newest first, at `now` (and whether small
    /// objects may go to the archive classes); returns how many versions it removed or moved.
    async fn apply_to_versions(
        &self,
        ctx: &RequestContext,
        bucket: &Bucket,
        rule: &Rule,
        (now, small_to_archive): (f64, bool),
        versions: &[Version],
    ) -> Result<usize, AwsError> {
        let mut removed = 0;
        for (at, v) in versions.iter().enumerate() {
            if !rule.matches(v) && !v.delete_marker {
                continue;
            }
            // The successor of a noncurrent version is the one just before it.
            match at.checked_sub(1).map(|newer| &versions[newer]) {
                None if v.delete_marker => {
                    let only = versions.len() == 1;
                    if only && rule.expiration.as_ref().and_then(|e| e.expired_object_delete_marker) == Some(true) {
                        self.delete_one(ctx, &bucket.name, v.key.clone(), Some(v.version_id.clone()), LIFECYCLE)
                            .await?;
                        removed += 1;
                    }
                }
                None => {
                    let due = rule.expiration.as_ref().is_some_and(|exp| match (exp.days, exp.date) {
                        (Some(days), _) => expires_at(v.last_modified, days) <= now,
                        (None, Some(date)) => date.0 <= now,
                        _ => false,
                    });
                    if due {
                        self.delete_one(ctx, &bucket.name, v.key.clone(), None, LIFECYCLE).await?;
                        removed += 1;
                    } else if let Some(class) = rule.transition(v, v.last_modified, now, None, small_to_archive) {
                        removed += self.transition(bucket, v, class).await?;
                    }
                }
                Some(newer) => {
                    // The noncurrent versions newer than this one (the key's first is current).
                    let newer_noncurrent = at - 1;
                    if rule.noncurrent_expires(newer.last_modified, now, newer_noncurrent) {
                        self.delete_one(ctx, &bucket.name, v.key.clone(), Some(v.version_id.clone()), LIFECYCLE)
                            .await?;
                        removed += 1;
                    } else if let Some(class) =
                        rule.transition(v, newer.last_modified, now, Some(newer_noncurrent), small_to_archive)
                    {
                        removed += self.transition(bucket, v, class).await?;
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Moves version `v` to storage class `class`, with its `LifecycleTransition` event;
    /// answers 1, or 0 when the version changed or went meanwhile.
    async fn transition(&self, bucket: &Bucket, v: &Version, class: String) -> Result<usize, AwsError> {
        let (bucket, key, id, seen) = (bucket.clone(), v.key.clone(), v.version_id.clone(), v.storage_class.clone());
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                let Some((record_key, mut v)) = table::find_version(txn, &bucket.name, &key, &id)? else {
                    return Ok(0);
                };
                if v.storage_class != seen {
                    return Ok(0);
                }
                v.storage_class = Some(class.clone());
                table::rewrite_version(txn, &bucket.name, &record_key, &v)?;
                let details = Details {
                    principal: Some(notification::S3_PRINCIPAL.to_string()),
                    extra: Some((
                        "lifecycleEventData",
                        json!({"transitionEventData": {"destinationStorageClass": class}}),
                    )),
                };
                notification::enqueue_with(txn, &bucket, "LifecycleTransition", &v, "", &details)?;
                Ok::<_, AwsError>(1)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> Rule {
        serde_json::from_value(json).unwrap()
    }

    fn version(size: u64, class: Option<&str>) -> Version {
        Version { size, storage_class: class.map(str::to_string), ..Default::default() }
    }

    #[test]
    fn transitions_go_colder_when_due_and_leave_small_objects() {
        let created = 1_704_103_200.0; // 2024-01-01T10:00Z
        let r = rule(serde_json::json!({"Transitions": [
            {"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER"}]}));
        let big = version(SMALLEST_TRANSITION, None);
        let day = |n: f64| created + n * DAY;
        assert_eq!(r.transition(&big, created, day(30.0), None, false), None);
        assert_eq!(r.transition(&big, created, day(31.0), None, false).as_deref(), Some("STANDARD_IA"));
        assert_eq!(r.transition(&big, created, day(91.0), None, false).as_deref(), Some("GLACIER"));
        // Never back to a warmer class, nor to the class it is in.
        assert_eq!(
            r.transition(&version(SMALLEST_TRANSITION, Some("DEEP_ARCHIVE")), created, day(91.0), None, false),
            None
        );
        assert_eq!(r.transition(&version(SMALLEST_TRANSITION, Some("GLACIER")), created, day(91.0), None, false), None);
        // Small objects stay, but may go to the archive classes when the bucket says so.
        let small = version(SMALLEST_TRANSITION - 1, None);
        assert_eq!(r.transition(&small, created, day(91.0), None, false), None);
        assert_eq!(r.transition(&small, created, day(91.0), None, true).as_deref(), Some("GLACIER"));
        assert_eq!(r.transition(&small, created, day(31.0), None, true), None);
    }

    #[test]
    fn noncurrent_transitions_count_from_when_the_version_became_noncurrent() {
        let r = rule(serde_json::json!({"NoncurrentVersionTransitions": [
            {"NoncurrentDays": 1, "StorageClass": "GLACIER", "NewerNoncurrentVersions": 2}]}));
        let replaced = 1_704_103_200.0;
        let v = version(SMALLEST_TRANSITION, None);
        let later = replaced + 2.0 * DAY;
        assert_eq!(r.transition(&v, replaced, replaced + DAY, Some(2), false), None);
        assert_eq!(r.transition(&v, replaced, later, Some(2), false).as_deref(), Some("GLACIER"));
        // The two newest noncurrent versions are kept where they are.
        assert_eq!(r.transition(&v, replaced, later, Some(1), false), None);
        // Current versions follow Transitions only.
        assert_eq!(r.transition(&v, replaced, later, None, false), None);
    }

    #[test]
    fn noncurrent_versions_expire_after_their_days_beyond_those_kept() {
        let r = rule(
            serde_json::json!({"NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 3}}),
        );
        let replaced = 1_704_103_200.0;
        assert!(!r.noncurrent_expires(replaced, replaced + DAY, 5));
        assert!(r.noncurrent_expires(replaced, replaced + 2.0 * DAY, 3));
        assert!(!r.noncurrent_expires(replaced, replaced + 2.0 * DAY, 2));
        let plain = rule(serde_json::json!({"NoncurrentVersionExpiration": {"NoncurrentDays": 1}}));
        assert!(plain.noncurrent_expires(replaced, replaced + 2.0 * DAY, 0));
    }

    #[test]
    fn size_filters_bound_the_objects_a_rule_matches() {
        let r = rule(
            serde_json::json!({"Filter": {"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}}}),
        );
        let sized = |size| Version { key: "a/x".into(), size, ..Default::default() };
        assert!(!r.matches(&sized(10)) && r.matches(&sized(11)) && r.matches(&sized(19)) && !r.matches(&sized(20)));
    }

    #[test]
    fn expiry_rounds_to_the_next_midnight() {
        // Created 2024-01-01T10:00Z, one day: expires 2024-01-03T00:00Z.
        let created = 1_704_103_200.0;
        assert_eq!(expires_at(created, 1), 1_704_240_000.0);
        assert_eq!(expires_at(created, 0), 1_704_153_600.0);
    }
}
