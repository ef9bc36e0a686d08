//! Lifecycle rules that act: current objects expire after `Days` (counted, as S3 does, to
//! the next midnight UTC after creation plus the days) or on `Date`, noncurrent versions
//! after `NoncurrentDays`, expired delete markers are removed, and multipart uploads are
//! aborted `DaysAfterInitiation` days after they began. Transitions change nothing here:
//! Brume has one storage class.
//!
//! [`S3::apply_lifecycle`] makes one pass over every bucket with rules; the binary runs it
//! periodically, and `POST /_brume/jobs/s3-lifecycle` runs it at once.

use brume_core::value::Timestamp;
use brume_core::{AwsError, RequestContext};
use brume_storage::Direction;
use serde::Deserialize;

use crate::table::{self, Bucket, KEYSPACE, Version};
use crate::{S3, multipart};

const DAY: f64 = 86_400.0;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Configuration {
    rules: Vec<Rule>,
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
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Filter {
    prefix: Option<String>,
    tag: Option<Tag>,
    and: Option<And>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct And {
    prefix: Option<String>,
    tags: Vec<Tag>,
}

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

    fn matches(&self, v: &Version) -> bool {
        v.key.starts_with(&self.prefix())
            && self.tags().iter().all(|t| v.tags.iter().any(|(k, val)| *k == t.key && *val == t.value))
    }
}

/// When an object created at `created` expires after `days`: S3 adds the days and rounds
/// up to the next midnight UTC.
fn expires_at(created: f64, days: i64) -> f64 {
    ((created / DAY).floor() + 1.0 + days as f64) * DAY
}

impl S3 {
    /// One pass of every bucket's lifecycle rules at time `now`; returns how many objects,
    /// versions, markers and uploads it removed.
    pub async fn apply_lifecycle(&self, now: Timestamp) -> Result<usize, AwsError> {
        let mut removed = 0;
        for (_, v) in self.kv.scan(KEYSPACE, &table::all_buckets(), Direction::Forward, usize::MAX)? {
            let bucket: Bucket = table::decode(&v)?;
            let Some(config) = bucket.config.get("lifecycle") else { continue };
            let config: Configuration = serde_json::from_value(config.clone()).unwrap_or_default();
            for rule in config.rules.iter().filter(|r| r.status == "Enabled") {
                removed += self.apply_rule(&bucket, rule, now.0).await?;
            }
        }
        Ok(removed)
    }

    async fn apply_rule(&self, bucket: &Bucket, rule: &Rule, now: f64) -> Result<usize, AwsError> {
        let ctx = RequestContext::new(bucket.account.clone(), bucket.region.clone());
        let mut removed = 0;
        let prefix = rule.prefix();
        // The listing gives a key's versions together, newest first: each key is judged on
        // its own versions as the listing reads on, holding no more than one key's.
        let mut versions_of_key: Vec<Version> = Vec::new();
        for listed in table::Versions::new(self.kv.as_ref(), &bucket.name, &prefix, &prefix) {
            let v = listed?.version;
            if versions_of_key.first().is_some_and(|first| first.key != v.key) {
                removed += self.expire_versions(&ctx, bucket, rule, now, &std::mem::take(&mut versions_of_key)).await?;
            }
            versions_of_key.push(v);
        }
        if !versions_of_key.is_empty() {
            removed += self.expire_versions(&ctx, bucket, rule, now, &versions_of_key).await?;
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

    /// Applies `rule` to the versions of one key, newest first; returns how many it removed.
    async fn expire_versions(
        &self,
        ctx: &RequestContext,
        bucket: &Bucket,
        rule: &Rule,
        now: f64,
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
                        self.delete_one(ctx, &bucket.name, v.key.clone(), Some(v.version_id.clone())).await?;
                        removed += 1;
                    }
                }
                None => {
                    let Some(exp) = &rule.expiration else { continue };
                    let due = match (exp.days, exp.date) {
                        (Some(days), _) => expires_at(v.last_modified, days) <= now,
                        (None, Some(date)) => date.0 <= now,
                        _ => false,
                    };
                    if due {
                        self.delete_one(ctx, &bucket.name, v.key.clone(), None).await?;
                        removed += 1;
                    }
                }
                Some(newer) => {
                    let Some(days) = rule.noncurrent_version_expiration.as_ref().and_then(|n| n.noncurrent_days) else {
                        continue;
                    };
                    if expires_at(newer.last_modified, days) <= now {
                        self.delete_one(ctx, &bucket.name, v.key.clone(), Some(v.version_id.clone())).await?;
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::expires_at;

    #[test]
    fn expiry_rounds_to_the_next_midnight() {
        // Created 2024-01-01T10:00Z, one day: expires 2024-01-03T00:00Z.
        let created = 1_704_103_200.0;
        assert_eq!(expires_at(created, 1), 1_704_240_000.0);
        assert_eq!(expires_at(created, 0), 1_704_153_600.0);
    }
}
