//! Functions: CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction, and
//! [`Lambda::resolve`], which finds the version an invocation runs.
//!
//! Only zip packages are supported: `PackageType: Image` is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use brume_core::{AwsError, RequestContext};
use brume_protocol::ServiceBuilder;
use brume_storage::{Direction, Txn};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::code::CodeInput;
use crate::table::{self, Config, Function, KEYSPACE, LayerRef, Package};
use crate::{Lambda, error};

pub(crate) fn ops(builder: ServiceBuilder<Lambda>) -> ServiceBuilder<Lambda> {
    let builder = builder
        .op("CreateFunction", Lambda::create_function)
        .op("GetFunction", Lambda::get_function)
        .op("GetFunctionConfiguration", Lambda::get_function_configuration)
        .op("DeleteFunction", Lambda::delete_function)
        .op("ListFunctions", Lambda::list_functions)
        .op("UpdateFunctionCode", Lambda::update_function_code)
        .op("UpdateFunctionConfiguration", Lambda::update_function_configuration);
    // Tags and account settings belong to the function as a whole.
    let builder = crate::tags::ops(builder);
    crate::account::ops(builder)
}

/// A function version ready to run.
pub(crate) struct Resolved {
    /// Fields documented in executor/mod.rs; `code_dir` and `layer_dirs` unpacked and
    /// present on disk.
    pub spec: crate::executor::FunctionSpec,
    /// The ARN as invoked: qualified (`…:function:NAME:QUALIFIER`) when a qualifier or alias
    /// was named.
    pub invoked_arn: String,
    /// The dead-letter target of the function's DeadLetterConfig, if any.
    pub dead_letter_arn: Option<String>,
}

/// Runtimes Brume runs; others in Lambda's list are accepted and stored, but cannot run.
const RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// Runtimes Lambda still accepts but Brume has no loop for.
const OTHER_RUNTIMES: &[&str] = &[
    "nodejs24.x",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "dotnet8",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
];

/// Variables the runtime sets, which functions may not.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// The admin view `Code.Location` points at (`GET /_brume/lambda/code`).
pub const CODE_VIEW: &str = "_brume/lambda/code";

const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

/// A model-constraint failure, as Lambda's front end words it.
pub(crate) fn validation(value: &str, member: &str, constraint: &str) -> AwsError {
    AwsError::new(
        400,
        "ValidationException",
        format!(
            "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
        ),
    )
}

/// A RevisionId precondition that did not hold.
pub(crate) fn precondition_failed() -> AwsError {
    AwsError::new(
        412,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
    .with_member("Type", Value::String("User".into()))
}

/// One page of `items` after `marker` (an offset Lambda's markers stand for), and the
/// marker of the next page.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    range(max_items, "maxItems", 1, 10000)?;
    let max = max_items.unwrap_or(50) as usize;
    let start = match marker {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| error::invalid_parameter("Invalid marker."))?,
    };
    let (page, next) = brume_core::page::slice(items, start, max);
    Ok((page, next.map(|end| end.to_string())))
}

fn range(value: Option<i64>, member: &str, min: i64, max: i64) -> Result<(), AwsError> {
    match value {
        Some(v) if v < min => {
            Err(validation(&v.to_string(), member, &format!("Member must have value greater than or equal to {min}")))
        }
        Some(v) if v > max => {
            Err(validation(&v.to_string(), member, &format!("Member must have value less than or equal to {max}")))
        }
        _ => Ok(()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A function named by a name, a partial ARN or an ARN, each with an optional qualifier.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FunctionRef {
    pub account: String,
    pub region: String,
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    pub fn arn(&self) -> String {
        table::function_arn(&self.region, &self.account, &self.name)
    }

    /// The ARN with the qualifier, if there is one.
    pub fn qualified_arn(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{}:{q}", self.arn()),
            None => self.arn(),
        }
    }

    /// `function` as `account` in `region` names it, with `qualifier` (which must agree
    /// with one in the name).
    pub fn parse(
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionRef, AwsError> {
        let invalid = || {
            validation(
                function,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
            )
        };
        let parts: Vec<&str> = function.split(':').collect();
        let (account, region, rest): (&str, &str, &[&str]) = match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "function", rest @ ..] if partition.starts_with("aws") => {
                (account, region, rest)
            }
            [account, "function", rest @ ..] => (account, region, rest),
            rest => (account, region, rest),
        };
        let (name, in_name) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return Err(invalid()),
        };
        let valid_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let valid_qualifier = |q: &str| q == "$LATEST" || (!q.is_empty() && q.chars().all(is_name_char));
        if name.is_empty() || !name.chars().all(is_name_char) || !valid_account || !in_name.is_none_or(valid_qualifier)
        {
            return Err(invalid());
        }
        if name.len() > 64 {
            return Err(validation(function, "functionName", "Member must have length less than or equal to 64"));
        }
        if let (Some(a), Some(b)) = (in_name, qualifier)
            && a != b
        {
            return Err(error::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        let qualifier = in_name.or(qualifier).map(str::to_string);
        Ok(FunctionRef { account: account.into(), region: region.into(), name: name.into(), qualifier })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentInput {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterInput {
    pub target_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModeInput {
    pub mode: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SizeInput {
    pub size: i64,
}

/// The configuration members CreateFunction and UpdateFunctionConfiguration share.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigInput {
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<EnvironmentInput>,
    pub dead_letter_config: Option<DeadLetterInput>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Option<ModeInput>,
    pub layers: Option<Vec<String>>,
    pub ephemeral_storage: Option<SizeInput>,
    pub logging_config: Option<Value>,
    pub vpc_config: Option<Value>,
    pub image_config: Option<Value>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    function_name: String,
    code: CodeInput,
    #[serde(default)]
    publish: bool,
    package_type: Option<String>,
    architectures: Option<Vec<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(flatten)]
    config: ConfigInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsInput {
    function_version: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateCodeInput {
    function_name: String,
    #[serde(default)]
    publish: bool,
    #[serde(default)]
    dry_run: bool,
    revision_id: Option<String>,
    architectures: Option<Vec<String>>,
    #[serde(flatten)]
    code: CodeInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfigInput {
    function_name: String,
    #[serde(flatten)]
    config: ConfigInput,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionInput {
    pub function_name: String,
    pub qualifier: Option<String>,
}

/// Runtimes Lambda no longer takes for new or updated functions, with the family's newest
/// (which Lambda's error recommends).
const DEPRECATED_RUNTIMES: &[(&str, &[&str])] = &[
    (
        "nodejs22.x",
        &[
            "nodejs",
            "nodejs4.3",
            "nodejs4.3-edge",
            "nodejs6.10",
            "nodejs8.10",
            "nodejs10.x",
            "nodejs12.x",
            "nodejs14.x",
            "nodejs16.x",
        ],
    ),
    ("python3.13", &["python2.7", "python3.6", "python3.7", "python3.8"]),
    ("java21", &["java8"]),
    ("dotnet8", &["dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet6"]),
    ("ruby3.4", &["ruby2.5", "ruby2.7"]),
    ("provided.al2023", &["go1.x"]),
];

fn check_runtime(runtime: &str) -> Result<(), AwsError> {
    if RUNTIMES.contains(&runtime) || OTHER_RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    if let Some((newest, _)) = DEPRECATED_RUNTIMES.iter().find(|(_, old)| old.contains(&runtime)) {
        return Err(error::invalid_parameter(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime ({newest}) while creating or updating functions."
        )));
    }
    let all: Vec<&str> = RUNTIMES.iter().chain(OTHER_RUNTIMES).copied().collect();
    Err(error::invalid_parameter(format!(
        "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
        all.join(", ")
    )))
}

fn check_role(role: &str) -> Result<(), AwsError> {
    let valid = (|| {
        let rest = role.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(":iam::")?;
        let (account, name) = rest.split_once(":role")?;
        let name = name.strip_prefix('/').unwrap_or(name);
        (partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c)))
        .then_some(())
    })();
    valid.ok_or_else(|| {
        validation(role, "role", &format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"))
    })
}

fn is_provided(runtime: Option<&str>) -> bool {
    runtime.is_some_and(|r| r.starts_with("provided"))
}

/// Lambda's default logging configuration for `name`, with `input` applied.
fn logging(name: &str, current: Option<&Value>, input: Option<&Value>) -> Result<Value, AwsError> {
    let mut config =
        current.cloned().unwrap_or_else(|| json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")}));
    if let Some(Value::Object(input)) = input {
        for (k, v) in input {
            config[k] = v.clone();
        }
    }
    match config["LogFormat"].as_str() {
        Some("Text") => {
            if let Some(obj) = config.as_object_mut() {
                obj.remove("ApplicationLogLevel");
                obj.remove("SystemLogLevel");
            }
        }
        Some("JSON") => {
            for (member, default) in [("ApplicationLogLevel", "INFO"), ("SystemLogLevel", "INFO")] {
                if config[member].is_null() {
                    config[member] = json!(default);
                }
            }
        }
        other => {
            return Err(validation(
                other.unwrap_or(""),
                "loggingConfig.logFormat",
                "Member must satisfy enum value set: [JSON, Text]",
            ));
        }
    }
    Ok(config)
}

impl Lambda {
    /// The records of `function`'s layers, checked.
    fn layer_refs(&self, arns: &[String]) -> Result<Vec<LayerRef>, AwsError> {
        if arns.len() > 5 {
            return Err(error::invalid_parameter("Cannot reference more than 5 layers."));
        }
        arns.iter().map(|arn| self.layer_ref(arn)).collect()
    }

    /// Applies the configuration members of `input` to `config` (a new function's defaults
    /// or its current `$LATEST`), validating them as Lambda does.
    fn apply_config(&self, name: &str, config: &mut Config, input: ConfigInput) -> Result<(), AwsError> {
        if let Some(runtime) = input.runtime {
            check_runtime(&runtime)?;
            config.runtime = Some(runtime);
        }
        if let Some(role) = input.role {
            check_role(&role)?;
            config.role = role;
        }
        if let Some(handler) = input.handler {
            if handler.len() > 128 {
                return Err(validation(&handler, "handler", "Member must have length less than or equal to 128"));
            }
            if handler.chars().any(char::is_whitespace) {
                return Err(validation(&handler, "handler", r"Member must satisfy regular expression pattern: [^\s]+"));
            }
            config.handler = Some(handler);
        }
        if let Some(description) = input.description {
            if description.chars().count() > 256 {
                return Err(validation(
                    &description,
                    "description",
                    "Member must have length less than or equal to 256",
                ));
            }
            config.description = description;
        }
        range(input.timeout, "timeout", 1, 900)?;
        range(input.memory_size, "memorySize", 128, 10240)?;
        range(input.ephemeral_storage.as_ref().map(|e| e.size), "ephemeralStorage.size", 512, 10240)?;
        if let Some(timeout) = input.timeout {
            config.timeout = timeout as u32;
        }
        if let Some(memory) = input.memory_size {
            config.memory_size = memory as u32;
        }
        if let Some(storage) = input.ephemeral_storage {
            config.ephemeral_storage = storage.size as u32;
        }
        if let Some(environment) = input.environment {
            // The front end has checked the names against the model's pattern.
            let reserved: Vec<&str> =
                environment.variables.keys().map(String::as_str).filter(|k| RESERVED_VARIABLES.contains(k)).collect();
            if !reserved.is_empty() {
                return Err(error::invalid_parameter(format!(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
                    reserved.join(", ")
                )));
            }
            let size: usize = environment.variables.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > 4096 {
                return Err(error::invalid_parameter(format!(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {}",
                    serde_json::to_string(&environment.variables).unwrap_or_default()
                )));
            }
            config.environment = Some(environment.variables);
        }
        if let Some(dead_letter) = input.dead_letter_config {
            config.dead_letter_arn = dead_letter.target_arn.filter(|a| !a.is_empty());
        }
        if let Some(kms) = input.kms_key_arn {
            config.kms_key_arn = Some(kms).filter(|k| !k.is_empty());
        }
        if let Some(mode) = input.tracing_config.and_then(|t| t.mode) {
            if mode != "Active" && mode != "PassThrough" {
                return Err(validation(
                    &mode,
                    "tracingConfig.mode",
                    "Member must satisfy enum value set: [Active, PassThrough]",
                ));
            }
            config.tracing_mode = mode;
        }
        if let Some(layers) = input.layers {
            config.layers = self.layer_refs(&layers)?;
        }
        if input.logging_config.is_some() {
            config.logging = logging(name, Some(&config.logging), input.logging_config.as_ref())?;
        }
        if let Some(vpc) = input.vpc_config {
            config.vpc = Some(vpc);
        }
        if input.image_config.is_some() {
            return Err(error::invalid_parameter("ImageConfig is not supported for functions with package type Zip."));
        }
        if !is_provided(config.runtime.as_deref()) && config.handler.is_none() || config.runtime.is_none() {
            return Err(error::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        }
        Ok(())
    }

    pub(crate) async fn create_function(
        self: Arc<Self>,
        ctx: RequestContext,
        input: CreateFunctionInput,
    ) -> Result<Value, AwsError> {
        let name = input.function_name.clone();
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &name, None)?;
        if target.qualifier.is_some() || target.account != ctx.account {
            return Err(validation(
                &name,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
            ));
        }
        if input.package_type.as_deref().is_some_and(|p| p != "Zip") || input.code.image_uri.is_some() {
            return Err(error::invalid_parameter("Brume runs zip packages only: PackageType Image is not supported."));
        }
        let architectures = input.architectures.unwrap_or_else(|| vec!["x86_64".into()]);
        check_architectures(&architectures)?;
        if input.code.is_empty() {
            return Err(error::invalid_parameter("Please provide a source for function code."));
        }
        let zip = self.code_bytes(&ctx.account, input.code, "CreateFunction").await?;
        let mut config = Config {
            version: "$LATEST".into(),
            runtime: None,
            role: String::new(),
            handler: None,
            description: String::new(),
            timeout: 3,
            memory_size: 128,
            environment: None,
            dead_letter_arn: None,
            kms_key_arn: None,
            tracing_mode: "PassThrough".into(),
            layers: Vec::new(),
            architectures,
            ephemeral_storage: 512,
            logging: logging(&target.name, None, None)?,
            vpc: None,
            code: Package { blob: String::new(), sha256: String::new(), size: 0 },
            revision_id: table::new_revision(),
            last_modified: table::now_lambda(),
        };
        self.apply_config(&target.name, &mut config, input.config)?;
        config.code = self.store_package(&zip).await?;
        self.unpacked(&config.code).await?;
        let function = Function {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: target.name.clone(),
            latest: config,
            tags: input.tags,
            next_version: 1,
            last_published: None,
            published_revision: None,
            reserved_concurrency: None,
            policies: BTreeMap::new(),
            policy_revision: table::new_revision(),
        };
        let publish = input.publish;
        let package = function.latest.code.clone();
        let created = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&function.account, &function.region, &function.name);
                if txn.get(KEYSPACE, &key)?.is_some() {
                    return Err(error::conflict(format!("Function already exist: {}", function.name)));
                }
                let mut function = function;
                let published = if publish { Some(crate::version::publish(txn, &mut function, None)?) } else { None };
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                Ok::<_, AwsError>((function, published))
            })
            .await;
        let (function, published) = match created {
            Ok(created) => created,
            Err(e) => {
                self.delete_packages([package]).await;
                return Err(e);
            }
        };
        Ok(configuration(&function, published.as_ref().unwrap_or(&function.latest)))
    }

    /// The function `target` names, if it exists.
    pub(crate) fn function(&self, target: &FunctionRef) -> Result<Function, AwsError> {
        let key = table::function_key(&target.account, &target.region, &target.name);
        let found = self.kv.get(KEYSPACE, &key)?.map(|b| table::decode(&b)).transpose()?;
        found.ok_or_else(|| error::function_not_found(&target.arn()))
    }

    /// The configuration of the version `target`'s qualifier names (`$LATEST` by default,
    /// an alias's version for an alias), and the alias when it was one.
    pub(crate) fn version_config(
        &self,
        function: &Function,
        target: &FunctionRef,
    ) -> Result<(Config, Option<table::Alias>), AwsError> {
        let not_found = || error::function_not_found(&target.qualified_arn());
        match target.qualifier.as_deref() {
            None | Some("$LATEST") => Ok((function.latest.clone(), None)),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u64 = q.parse().map_err(|_| not_found())?;
                let key = table::version_key(&function.account, &function.region, &function.name, n);
                let config = self.kv.get(KEYSPACE, &key)?.map(|b| table::decode(&b)).transpose()?;
                Ok((config.ok_or_else(not_found)?, None))
            }
            Some(alias) => {
                let key = table::alias_key(&function.account, &function.region, &function.name, alias);
                let alias: table::Alias =
                    self.kv.get(KEYSPACE, &key)?.map(|b| table::decode(&b)).transpose()?.ok_or_else(not_found)?;
                let version = FunctionRef { qualifier: Some(alias.function_version.clone()), ..target.clone() };
                Ok((self.version_config(function, &version)?.0, Some(alias)))
            }
        }
    }

    pub(crate) async fn get_function(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        let function = self.function(&target)?;
        let (config, _) = self.version_config(&function, &target)?;
        let mut out = json!({
            "Configuration": configuration_as_named(&function, &config, &target),
            "Code": {"RepositoryType": "S3", "Location": self.code_location(&function, &config)},
        });
        if !function.tags.is_empty() {
            out["Tags"] = json!(function.tags);
        }
        if let Some(reserved) = function.reserved_concurrency {
            out["Concurrency"] = json!({"ReservedConcurrentExecutions": reserved});
        }
        Ok(out)
    }

    pub(crate) async fn get_function_configuration(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        let function = self.function(&target)?;
        let (config, _) = self.version_config(&function, &target)?;
        Ok(configuration_as_named(&function, &config, &target))
    }

    pub(crate) async fn list_functions(
        self: Arc<Self>,
        ctx: RequestContext,
        input: ListFunctionsInput,
    ) -> Result<Value, AwsError> {
        let all_versions = match input.function_version.as_deref() {
            None => false,
            Some("ALL") => true,
            Some(other) => {
                return Err(validation(other, "functionVersion", "Member must satisfy enum value set: [ALL]"));
            }
        };
        let snapshot = self.kv.snapshot()?;
        let mut all = Vec::new();
        for (_, v) in
            snapshot.scan(KEYSPACE, &table::functions_of(&ctx.account, &ctx.region), Direction::Forward, usize::MAX)?
        {
            let function: Function = table::decode(&v)?;
            all.push(configuration(&function, &function.latest));
            if all_versions {
                let versions = table::versions_of(&function.account, &function.region, &function.name);
                for (_, v) in snapshot.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
                    all.push(configuration(&function, &table::decode::<Config>(&v)?));
                }
            }
        }
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        let mut out = json!({"Functions": page});
        if let Some(next) = next {
            out["NextMarker"] = json!(next);
        }
        Ok(out)
    }

    /// Changes `target`'s `$LATEST` with `change` (after checking `revision_id` against it),
    /// publishing a version after when `publish`; answers the function and the
    /// configuration to report. Idle environments of the function are drained.
    async fn update_latest(
        &self,
        target: FunctionRef,
        revision_id: Option<String>,
        publish: bool,
        change: impl FnOnce(&mut Config) + Send + 'static,
    ) -> Result<(Function, Config, Vec<String>), AwsError> {
        let arn = target.arn();
        let updated = self
            .kv
            .transact(move |txn: &mut dyn Txn| {
                let key = table::function_key(&target.account, &target.region, &target.name);
                let mut function: Function =
                    crate::version::read(txn, &key)?.ok_or_else(|| error::function_not_found(&target.arn()))?;
                if revision_id.is_some_and(|r| r != function.latest.revision_id) {
                    return Err(precondition_failed());
                }
                let before = function.latest.code.blob.clone();
                change(&mut function.latest);
                function.latest.revision_id = table::new_revision();
                function.latest.last_modified = table::now_lambda();
                let reported =
                    if publish { crate::version::publish(txn, &mut function, None)? } else { function.latest.clone() };
                txn.put(KEYSPACE, &key, &table::encode(&function))?;
                let in_use = crate::version::packages_in_use(txn, &function)?;
                let orphaned = if in_use.contains(&before) { Vec::new() } else { vec![before] };
                Ok::<_, AwsError>((function, reported, orphaned))
            })
            .await?;
        self.executor.drain(&arn);
        Ok(updated)
    }

    pub(crate) async fn update_function_code(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateCodeInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, None)?;
        if target.qualifier.is_some() {
            return Err(validation(
                &input.function_name,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
            ));
        }
        let current = self.function(&target)?;
        if let Some(architectures) = &input.architectures {
            check_architectures(architectures)?;
        }
        if input.code.is_empty() {
            return Err(error::invalid_parameter("Please provide a source for function code."));
        }
        let zip = self.code_bytes(&ctx.account, input.code, "UpdateFunctionCode").await?;
        if input.dry_run {
            let mut config = current.latest.clone();
            use base64::Engine as _;
            config.code.sha256 =
                base64::engine::general_purpose::STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(&zip));
            config.code.size = zip.len() as u64;
            return Ok(configuration(&current, &config));
        }
        let package = self.store_package(&zip).await?;
        self.unpacked(&package).await?;
        let new = package.clone();
        let architectures = input.architectures;
        let updated = self
            .update_latest(target, input.revision_id, input.publish, move |config| {
                config.code = new;
                if let Some(architectures) = architectures {
                    config.architectures = architectures;
                }
            })
            .await;
        let (function, reported, orphaned) = match updated {
            Ok(updated) => updated,
            Err(e) => {
                self.delete_packages([package]).await;
                return Err(e);
            }
        };
        let orphaned = orphaned.into_iter().map(|blob| Package { blob, sha256: String::new(), size: 0 });
        self.delete_packages(orphaned).await;
        Ok(configuration(&function, &reported))
    }

    pub(crate) async fn update_function_configuration(
        self: Arc<Self>,
        ctx: RequestContext,
        input: UpdateConfigInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, None)?;
        if target.qualifier.is_some() {
            return Err(validation(
                &input.function_name,
                "functionName",
                &format!("Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"),
            ));
        }
        let current = self.function(&target)?;
        let mut config = current.latest.clone();
        let revision_id = input.config.revision_id.clone();
        self.apply_config(&target.name, &mut config, input.config)?;
        let (function, reported, _) = self
            .update_latest(target, revision_id, false, move |latest| {
                *latest = Config { code: latest.code.clone(), ..config }
            })
            .await?;
        Ok(configuration(&function, &reported))
    }

    /// Where GetFunction says the code can be downloaded: Brume's own endpoint, served by
    /// [`Lambda::code_package`].
    fn code_location(&self, function: &Function, config: &Config) -> String {
        format!(
            "{}/{CODE_VIEW}?account={}&region={}&function={}&version={}",
            self.settings.endpoint.trim_end_matches('/'),
            function.account,
            function.region,
            function.name,
            config.version.replace('$', "%24"),
        )
    }

    /// The zip of the function version or layer version a `Code.Location` query names.
    pub async fn code_package(&self, query: Option<&str>) -> Result<Vec<u8>, String> {
        let mut params = BTreeMap::new();
        for pair in query.unwrap_or_default().split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.insert(k, v.replace("%24", "$"));
        }
        let param = |name: &str| params.get(name).cloned().ok_or_else(|| format!("missing {name}"));
        let (account, region, version) = (param("account")?, param("region")?, param("version")?);
        if let Ok(layer) = param("layer") {
            let version = version.parse().map_err(|_| "bad version".to_string())?;
            return self.layer_package(&account, &region, &layer, version).await.map_err(|e| e.message);
        }
        let function = param("function")?;
        let target = FunctionRef::parse(&account, &region, &function, Some(&version)).map_err(|e| e.message)?;
        let function = self.function(&target).map_err(|e| e.message)?;
        let (config, _) = self.version_config(&function, &target).map_err(|e| e.message)?;
        self.package_bytes(&config.code).await.map_err(|e| e.message)
    }

    pub(crate) async fn delete_function(
        self: Arc<Self>,
        ctx: RequestContext,
        input: FunctionInput,
    ) -> Result<Value, AwsError> {
        let target = FunctionRef::parse(&ctx.account, &ctx.region, &input.function_name, input.qualifier.as_deref())?;
        let arn = target.arn();
        let removed: Vec<Package> = match target.qualifier.clone() {
            Some(q) if q == "$LATEST" => {
                return Err(error::invalid_parameter(
                    "$LATEST version cannot be deleted without deleting the function.",
                ));
            }
            Some(q) => {
                let n: u64 = q.parse().map_err(|_| {
                    error::invalid_parameter(
                        "Deletion of aliases is not supported with this operation. Use DeleteAlias instead.",
                    )
                })?;
                self.kv.transact(move |txn: &mut dyn Txn| crate::version::delete_version(txn, &target, n)).await?
            }
            None => {
                self.kv
                    .transact(move |txn: &mut dyn Txn| {
                        let key = table::function_key(&target.account, &target.region, &target.name);
                        let function: Function = txn
                            .get(KEYSPACE, &key)?
                            .map(|b| table::decode(&b))
                            .transpose()?
                            .ok_or_else(|| error::function_not_found(&target.arn()))?;
                        let mut packages = vec![function.latest.code];
                        let mut qualifiers = vec!["$LATEST".to_string()];
                        let versions = table::versions_of(&target.account, &target.region, &target.name);
                        for (k, v) in txn.scan(KEYSPACE, &versions, Direction::Forward, usize::MAX)? {
                            let version: Config = table::decode(&v)?;
                            qualifiers.push(version.version);
                            packages.push(version.code);
                            txn.delete(KEYSPACE, &k)?;
                        }
                        let aliases = table::aliases_of(&target.account, &target.region, &target.name);
                        for (k, v) in txn.scan(KEYSPACE, &aliases, Direction::Forward, usize::MAX)? {
                            qualifiers.push(table::decode::<table::Alias>(&v)?.name);
                            txn.delete(KEYSPACE, &k)?;
                        }
                        // The event invoke configurations of every qualifier go with the function.
                        for qualifier in &qualifiers {
                            let config =
                                crate::config::config_key(&target.account, &target.region, &target.name, qualifier);
                            txn.delete(KEYSPACE, &config)?;
                        }
                        crate::url::delete_function_urls(txn, &target.arn())?;
                        txn.delete(KEYSPACE, &key)?;
                        packages.sort_by(|a, b| a.blob.cmp(&b.blob));
                        packages.dedup();
                        Ok::<_, AwsError>(packages)
                    })
                    .await?
            }
        };
        self.executor.drain(&arn);
        self.delete_packages(removed).await;
        Ok(json!({}))
    }

    /// The function `function` names — a name, a partial ARN `ACCOUNT:function:NAME` or a
    /// full ARN, each optionally ending in `:QUALIFIER` — at `qualifier` (a version number,
    /// `$LATEST`, or an alias, resolved to its version; an alias's routing weights are
    /// honoured, each invocation drawing its version), as Invoke resolves it.
    /// `Function not found: ARN` when it does not exist. The code and layers are unpacked
    /// under the work directory if they are not already.
    pub(crate) async fn resolve(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Resolved, AwsError> {
        let target = FunctionRef::parse(account, region, function, qualifier)?;
        let record = self.function(&target)?;
        let (mut config, alias) = self.version_config(&record, &target)?;
        if let Some(alias) = &alias
            && let Some(version) = pick_routed(&alias.routing)
        {
            let routed = FunctionRef { qualifier: Some(version), ..target.clone() };
            config = self.version_config(&record, &routed)?.0;
        }
        let code_dir = self.unpacked(&config.code).await?;
        let mut layer_dirs = Vec::with_capacity(config.layers.len());
        for layer in &config.layers {
            layer_dirs.push(self.unpacked(&layer.package).await?);
        }
        let spec = crate::executor::FunctionSpec {
            account: record.account.clone(),
            region: record.region.clone(),
            name: record.name.clone(),
            arn: record.arn(),
            version: config.version.clone(),
            revision: config.revision_id.clone(),
            runtime: config.runtime.clone().unwrap_or_default(),
            handler: config.handler.clone().unwrap_or_default(),
            code_dir,
            layer_dirs,
            environment: config.environment.clone().unwrap_or_default(),
            timeout: std::time::Duration::from_secs(config.timeout.into()),
            memory_mb: config.memory_size,
            role: config.role.clone(),
            reserved_concurrency: record.reserved_concurrency,
            log_group: config.logging["LogGroup"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("/aws/lambda/{}", record.name)),
        };
        Ok(Resolved { spec, invoked_arn: target.qualified_arn(), dead_letter_arn: config.dead_letter_arn })
    }
}

/// The additional version an invocation goes to under `routing` (version → weight), if
/// the draw picks it.
fn pick_routed(routing: &BTreeMap<String, f64>) -> Option<String> {
    let draw = (uuid::Uuid::new_v4().as_u64_pair().0 % 1_000_000) as f64 / 1_000_000.0;
    let mut acc = 0.0;
    for (version, weight) in routing {
        acc += weight;
        if draw < acc {
            return Some(version.clone());
        }
    }
    None
}

fn check_architectures(architectures: &[String]) -> Result<(), AwsError> {
    match architectures {
        [a] if a == "x86_64" || a == "arm64" => Ok(()),
        [a] => Err(validation(a, "architectures", "Member must satisfy enum value set: [x86_64, arm64]")),
        _ => Err(validation(
            &format!("[{}]", architectures.join(", ")),
            "architectures",
            "Member must have length less than or equal to 1",
        )),
    }
}

/// A version's `FunctionConfiguration` as GetFunction and GetFunctionConfiguration answer
/// it: with the ARN as the caller qualified it (by version, `$LATEST` or alias), or
/// unqualified when the caller did not.
fn configuration_as_named(function: &Function, config: &Config, target: &FunctionRef) -> Value {
    let mut out = configuration(function, config);
    if target.qualifier.is_some() {
        out["FunctionArn"] = json!(target.qualified_arn());
    }
    out
}

/// A version's `FunctionConfiguration`, as Lambda answers it.
pub(crate) fn configuration(function: &Function, config: &Config) -> Value {
    let arn =
        if config.version == "$LATEST" { function.arn() } else { format!("{}:{}", function.arn(), config.version) };
    let mut out = json!({
        "FunctionName": function.name,
        "FunctionArn": arn,
        "Role": config.role,
        "CodeSize": config.code.size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": config.last_modified,
        "CodeSha256": config.code.sha256,
        "Version": config.version,
        "TracingConfig": {"Mode": config.tracing_mode},
        "RevisionId": config.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": config.architectures,
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": config.logging,
    });
    if let Some(runtime) = &config.runtime {
        out["Runtime"] = json!(runtime);
    }
    if let Some(handler) = &config.handler {
        out["Handler"] = json!(handler);
    }
    if let Some(environment) = &config.environment {
        out["Environment"] = json!({"Variables": environment});
    }
    if let Some(target) = &config.dead_letter_arn {
        out["DeadLetterConfig"] = json!({"TargetArn": target});
    }
    if let Some(kms) = &config.kms_key_arn {
        out["KMSKeyArn"] = json!(kms);
    }
    if let Some(vpc) = &config.vpc {
        out["VpcConfig"] = json!({
            "SubnetIds": vpc.get("SubnetIds").cloned().unwrap_or(json!([])),
            "SecurityGroupIds": vpc.get("SecurityGroupIds").cloned().unwrap_or(json!([])),
            "VpcId": "",
        });
    }
    if !config.layers.is_empty() {
        out["Layers"] = config.layers.iter().map(|l| json!({"Arn": l.arn, "CodeSize": l.code_size})).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_parsed_in_every_form() {
        let f = |s: &str, q: Option<&str>| FunctionRef::parse("000000000000", "us-east-1", s, q);
        let plain = f("fn-1", None).unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier), ("fn-1", None));
        let partial = f("111111111111:function:fn:3", None).unwrap();
        assert_eq!((partial.account.as_str(), partial.qualifier.as_deref()), ("111111111111", Some("3")));
        let arn = f("arn:aws:lambda:eu-west-1:222222222222:function:fn:$LATEST", Some("$LATEST")).unwrap();
        assert_eq!((arn.region.as_str(), arn.account.as_str()), ("eu-west-1", "222222222222"));
        assert_eq!(f("fn:live", Some("other")).unwrap_err().code, "InvalidParameterValueException");
        assert_eq!(f("bad name", None).unwrap_err().code, "ValidationException");
        assert_eq!(f(&"a".repeat(65), None).unwrap_err().code, "ValidationException");
        assert_eq!(f("a:b:c:d", None).unwrap_err().code, "ValidationException");
    }

    #[test]
    fn roles_and_runtimes_are_checked() {
        assert!(check_role("arn:aws:iam::000000000000:role/lambda-role").is_ok());
        assert!(check_role("arn:aws:iam::000000000000:role/path/r").is_ok());
        assert!(check_role("arn:aws:iam::0000:role/r").is_err());
        assert!(check_role("not-a-role").is_err());
        assert!(check_runtime("python3.12").is_ok());
        assert_eq!(check_runtime("python2.9").unwrap_err().code, "InvalidParameterValueException");
        assert!(check_runtime("nodejs12.x").unwrap_err().message.contains("(nodejs22.x)"));
    }

    #[test]
    fn routing_weights_draw_versions() {
        assert_eq!(pick_routed(&BTreeMap::new()), None);
        assert_eq!(pick_routed(&BTreeMap::from([("2".to_string(), 1.0)])), Some("2".to_string()));
    }
}
