//! GetAccountSettings: Lambda's account limits, and the usage of the caller's functions in
//! the region (their code, every version and layer counted).

use std::collections::BTreeSet;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::Direction;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Lambda;
use crate::code::{MAX_UNZIPPED, MAX_ZIPPED};
use crate::concurrency::ACCOUNT_CONCURRENCY;
use crate::table::{self, Config, Function, KEYSPACE, LayerVersion};

/// The code storage of an account (75 GB).
const TOTAL_CODE_SIZE: u64 = 80_530_636_800;

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    builder.op("GetAccountSettings", Lambda::get_account_settings)
}

#[derive(Debug, Deserialize)]
pub struct Empty {}

impl Lambda {
    pub(crate) async fn get_account_settings(
        self: Arc<Self>,
        ctx: RequestContext,
        _input: Empty,
    ) -> Result<Value, AwsError> {
        let snapshot = self.kv.snapshot()?;
        let (mut count, mut reserved) = (0u64, 0u32);
        // Each stored package once: versions share their code with `$LATEST` until it changes.
        let mut packages = BTreeSet::new();
        let functions = table::functions_of(&ctx.account, &ctx.region);
        for (_, v) in snapshot.scan(KEYSPACE, &functions, Direction::Forward, usize::MAX)? {
            let function: Function = table::decode(&v)?;
            count += 1;
            reserved += function.reserved_concurrency.unwrap_or(0);
            packages.insert((function.latest.code.blob.clone(), function.latest.code.size));
            let versions = table::versions_of(&ctx.account, &ctx.region, &function.name);
            for (_, v) in snapshot.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
                let config: Config = table::decode(&v)?;
                packages.insert((config.code.blob, config.code.size));
            }
        }
        let layers = table::layer_versions_in(&ctx.account, &ctx.region);
        for (_, v) in snapshot.scan(KEYSPACE, &layers, Direction::Forward, usize::MAX)? {
            let layer: LayerVersion = table::decode(&v)?;
            packages.insert((layer.package.blob, layer.package.size));
        }
        let total: u64 = packages.iter().map(|(_, size)| size).sum();
        Ok(json!({
            "AccountLimit": {
                "TotalCodeSize": TOTAL_CODE_SIZE,
                "CodeSizeUnzipped": MAX_UNZIPPED,
                "CodeSizeZipped": MAX_ZIPPED,
                "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY.saturating_sub(reserved),
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }))
    }
}
