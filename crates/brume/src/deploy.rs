//! `brume deploy TEMPLATE` and `brume destroy STACK`: a client of a running Brume, as the
//! AWS CLI's `cloudformation package` and `deploy` together. Local code paths are packaged
//! into S3 (bucket `brume-deploy-<account>-<region>`), the stack is created or updated
//! through a change set, and its resources' statuses are shown live until the stack
//! settles: the outputs on success, the failing resource's reason and exit status 1
//! otherwise. Destroying a stack that does not exist says so and succeeds, so that the
//! command can always end a script.

mod client;
mod package;
mod progress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use brume_crypto::Md5;
use brume_protocol::codec::xml_read::Element;
use serde_json::Value;

use client::{Client, ServiceError, members, text};
use progress::Progress;

const CFN_VERSION: &str = "2010-05-15";
/// The largest TemplateBody CloudFormation takes; larger templates go through S3.
const MAX_BODY: usize = 51_200;
const POLL: Duration = Duration::from_millis(250);

/// Where Brume is and how to show progress.
#[derive(clap::Args)]
pub struct Connection {
    /// Brume's endpoint [default: $BRUME_ENDPOINT, else $AWS_ENDPOINT_URL, else http://127.0.0.1:4566]
    #[arg(long)]
    endpoint: Option<String>,
    /// The region [default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1]
    #[arg(long)]
    region: Option<String>,
    /// One line per resource event instead of a live table (the default when not on a terminal).
    #[arg(long)]
    no_progress: bool,
}

#[derive(clap::Args)]
pub struct Deploy {
    /// The CloudFormation or SAM template, JSON or YAML.
    template: PathBuf,
    /// The stack to create or update [default: the template file's name without extension]
    #[arg(long)]
    stack_name: Option<String>,
    /// Parameter values as KEY=VALUE; parameters not given keep their previous value on update.
    #[arg(long, num_args = 1..)]
    parameter_overrides: Vec<String>,
    /// Capabilities acknowledged.
    #[arg(long, num_args = 1.., default_values = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])]
    capabilities: Vec<String>,
    #[command(flatten)]
    connection: Connection,
}

#[derive(clap::Args)]
pub struct Destroy {
    /// The stack to delete.
    stack: String,
    #[command(flatten)]
    connection: Connection,
}

/// Runs `brume deploy`, answering the exit status.
pub async fn deploy(args: Deploy) -> i32 {
    report(run_deploy(args).await)
}

/// Runs `brume destroy`, answering the exit status.
pub async fn destroy(args: Destroy) -> i32 {
    report(run_destroy(args).await)
}

fn report(outcome: Result<bool>) -> i32 {
    match outcome {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}

fn env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

impl Connection {
    fn client(&self) -> Result<(Client, Progress)> {
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| env(&["BRUME_ENDPOINT", "AWS_ENDPOINT_URL"]))
            .unwrap_or_else(|| "http://127.0.0.1:4566".to_string());
        let region = self.region.clone().or_else(|| env(&["AWS_REGION", "AWS_DEFAULT_REGION"]));
        let region = region.unwrap_or_else(|| brume_core::DEFAULT_REGION.to_string());
        let access_key = env(&["AWS_ACCESS_KEY_ID"]).unwrap_or_else(|| "test".to_string());
        let secret = env(&["AWS_SECRET_ACCESS_KEY"]).unwrap_or_else(|| "test".to_string());
        Ok((Client::new(&endpoint, &region, &access_key, &secret)?, Progress::new(self.no_progress)))
    }
}

async fn run_deploy(args: Deploy) -> Result<bool> {
    let (client, mut progress) = args.connection.client()?;
    let body = std::fs::read_to_string(&args.template)
        .with_context(|| format!("reading the template {}", args.template.display()))?;
    let stack = match &args.stack_name {
        Some(name) => name.clone(),
        None => args
            .template
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| anyhow!("no stack name: give --stack-name"))?
            .to_string(),
    };
    let overrides = args
        .parameter_overrides
        .iter()
        .map(|pair| pair.split_once('=').ok_or_else(|| anyhow!("--parameter-overrides {pair}: expected KEY=VALUE")))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let mut template = brume_cloudformation::template::to_json(&body)
        .map_err(|e| anyhow!("{}: {}", args.template.display(), e.message))?;

    let bucket = deploy_bucket(&client).await?;
    let base = args.template.parent().map_or_else(|| Path::new(".").to_path_buf(), Path::to_path_buf);
    let artifacts = package::package(&mut template, &base, &bucket, &stack)?;
    // Without anything packaged the template goes as written (YAML stays YAML).
    let body = if artifacts.is_empty() { body } else { serde_json::to_string_pretty(&template)? };
    if !artifacts.is_empty() || body.len() > MAX_BODY {
        ensure_bucket(&client, &bucket).await?;
    }
    for artifact in artifacts {
        println!("Uploading to s3://{bucket}/{} ({} bytes)", artifact.key, artifact.content.len());
        client.s3_put(&format!("/{bucket}/{}", artifact.key), artifact.content).await?;
    }

    let existing = describe_stack(&client, &stack).await?;
    let creating = existing.as_ref().is_none_or(|s| text(s, &["StackStatus"]) == Some("REVIEW_IN_PROGRESS"));
    let mut params = vec![
        ("StackName".to_string(), stack.clone()),
        ("ChangeSetName".to_string(), format!("brume-deploy-{}", unix_millis())),
        ("ChangeSetType".to_string(), if creating { "CREATE" } else { "UPDATE" }.to_string()),
        ("Description".to_string(), "Created by brume deploy".to_string()),
    ];
    if body.len() > MAX_BODY {
        let key = format!("{stack}/{}.template", brume_core::hex(&Md5::digest(body.as_bytes())));
        client.s3_put(&format!("/{bucket}/{key}"), body.into_bytes()).await?;
        params.push(("TemplateURL".to_string(), format!("{}/{bucket}/{key}", client.endpoint())));
    } else {
        params.push(("TemplateBody".to_string(), body));
    }
    let previous: Vec<String> = existing
        .as_ref()
        .map(|s| members(s, &["Parameters"]).filter_map(|p| text(p, &["ParameterKey"]).map(str::to_string)).collect())
        .unwrap_or_default();
    let declared = template.get("Parameters").and_then(Value::as_object).map(|p| p.keys().cloned().collect::<Vec<_>>());
    let mut n = 0;
    for key in declared.unwrap_or_default() {
        let value = match overrides.get(key.as_str()) {
            Some(value) => ("ParameterValue", value.to_string()),
            None if !creating && previous.contains(&key) => ("UsePreviousValue", "true".to_string()),
            None => continue,
        };
        n += 1;
        params.push((format!("Parameters.member.{n}.ParameterKey"), key));
        params.push((format!("Parameters.member.{n}.{}", value.0), value.1));
    }
    for (i, capability) in args.capabilities.iter().enumerate() {
        params.push((format!("Capabilities.member.{}", i + 1), capability.clone()));
    }

    println!("Creating a change set for stack {stack}...");
    let created = cfn(&client, "CreateChangeSet", &params).await?;
    let change_set = text(&created, &["Id"]).ok_or_else(|| anyhow!("CreateChangeSet answered no Id"))?.to_string();
    let stack_id = text(&created, &["StackId"]).unwrap_or(&stack).to_string();
    let described = loop {
        let described = cfn(&client, "DescribeChangeSet", &[pair("ChangeSetName", &change_set)]).await?;
        match text(&described, &["Status"]) {
            Some("CREATE_PENDING" | "CREATE_IN_PROGRESS") => tokio::time::sleep(POLL).await,
            Some("FAILED") => {
                let reason = text(&described, &["StatusReason"]).unwrap_or_default();
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    cfn(&client, "DeleteChangeSet", &[pair("ChangeSetName", &change_set)]).await?;
                    println!("\nNo changes to deploy. Stack {stack} is up to date");
                    return Ok(true);
                }
                bail!("the change set failed: {reason}");
            }
            _ => break described,
        }
    };
    println!("Changes:");
    for change in members(&described, &["Changes"]) {
        let field = |name| text(change, &["ResourceChange", name]).unwrap_or_default();
        let replacement = if field("Replacement") == "True" { " (replacement)" } else { "" };
        println!("  {:<8} {:<36} {}{replacement}", field("Action"), field("ResourceType"), field("LogicalResourceId"));
    }

    let since = latest_event(&client, &stack_id).await?;
    println!("Executing the change set...");
    cfn(&client, "ExecuteChangeSet", &[pair("ChangeSetName", &change_set)]).await?;
    let settled = watch(&client, &stack_id, since, &mut progress).await?;
    let status = text(&settled, &["StackStatus"]).unwrap_or_default();
    if status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" {
        println!("\nStack {stack} {status}");
        let outputs: Vec<_> = members(&settled, &["Outputs"]).collect();
        if !outputs.is_empty() {
            println!("Outputs:");
            for output in outputs {
                let field = |name| text(output, &[name]).unwrap_or_default();
                println!("  {} = {}", field("OutputKey"), field("OutputValue"));
            }
        }
        return Ok(true);
    }
    failed(&stack, status, &settled, &progress);
    Ok(false)
}

async fn run_destroy(args: Destroy) -> Result<bool> {
    let (client, mut progress) = args.connection.client()?;
    let Some(existing) = describe_stack(&client, &args.stack).await? else {
        println!("Stack {} does not exist: nothing to destroy", args.stack);
        return Ok(true);
    };
    let stack_id = text(&existing, &["StackId"]).unwrap_or(&args.stack).to_string();
    let since = latest_event(&client, &stack_id).await?;
    println!("Deleting stack {}...", args.stack);
    cfn(&client, "DeleteStack", &[pair("StackName", &stack_id)]).await?;
    let settled = watch(&client, &stack_id, since, &mut progress).await?;
    let status = text(&settled, &["StackStatus"]).unwrap_or_default();
    if status == "DELETE_COMPLETE" {
        println!("\nStack {} DELETE_COMPLETE", args.stack);
        return Ok(true);
    }
    failed(&args.stack, status, &settled, &progress);
    Ok(false)
}

/// Explains a stack that did not reach the status asked for: the first resource that
/// failed, with its reason, else the stack's own reason.
fn failed(stack: &str, status: &str, settled: &Element, progress: &Progress) {
    eprintln!("\nStack {stack} {status}");
    match progress.first_failure(stack) {
        Some(event) => {
            eprintln!("Error: {} ({}) {}: {}", event.logical_id, event.resource_type, event.status, event.reason)
        }
        None => eprintln!("Error: {}", text(settled, &["StackStatusReason"]).unwrap_or(status)),
    }
}

/// Follows the stack's events newer than `since` until its status is no longer in progress,
/// answering the stack's final description.
async fn watch(client: &Client, stack_id: &str, since: Option<String>, progress: &mut Progress) -> Result<Element> {
    let mut seen = since;
    loop {
        let stack = describe_stack(client, stack_id).await?.ok_or_else(|| anyhow!("stack {stack_id} vanished"))?;
        // Events after the status: a settled stack has written all of its events.
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        'pages: loop {
            let mut params = vec![pair("StackName", stack_id)];
            if let Some(token) = &token {
                params.push(pair("NextToken", token));
            }
            let page = cfn(client, "DescribeStackEvents", &params).await?;
            for event in members(&page, &["StackEvents"]) {
                let id = text(event, &["EventId"]).unwrap_or_default();
                if seen.as_deref() == Some(id) {
                    break 'pages;
                }
                fresh.push(progress::Event::from_xml(event));
            }
            token = text(&page, &["NextToken"]).map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        if let Some(newest) = fresh.first() {
            seen = Some(newest.id.clone());
        }
        for event in fresh.into_iter().rev() {
            progress.event(event);
        }
        if !text(&stack, &["StackStatus"]).unwrap_or_default().ends_with("_IN_PROGRESS") {
            progress.finish();
            return Ok(stack);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The id of the stack's newest event, from which progress starts.
async fn latest_event(client: &Client, stack_id: &str) -> Result<Option<String>> {
    let page = cfn(client, "DescribeStackEvents", &[pair("StackName", stack_id)]).await?;
    Ok(members(&page, &["StackEvents"]).next().and_then(|e| text(e, &["EventId"])).map(str::to_string))
}

/// The stack's description, or None when it does not exist.
async fn describe_stack(client: &Client, stack: &str) -> Result<Option<Element>> {
    match cfn(client, "DescribeStacks", &[pair("StackName", stack)]).await {
        Ok(answer) => {
            let stacks = answer.children.into_iter().find(|c| c.name == "Stacks");
            Ok(stacks.and_then(|list| list.children.into_iter().next()))
        }
        Err(e) => match e.downcast_ref::<ServiceError>() {
            Some(error) if error.code == "ValidationError" && error.message.ends_with("does not exist") => Ok(None),
            _ => Err(e),
        },
    }
}

/// `brume-deploy-<account>-<region>`, the account being the caller's.
async fn deploy_bucket(client: &Client) -> Result<String> {
    let identity = client.query("sts", "2011-06-15", "GetCallerIdentity", &[]).await?;
    let account = text(&identity, &["Account"]).ok_or_else(|| anyhow!("GetCallerIdentity answered no account"))?;
    Ok(format!("brume-deploy-{account}-{}", client.region()))
}

async fn ensure_bucket(client: &Client, bucket: &str) -> Result<()> {
    let body = if client.region() == "us-east-1" {
        Vec::new()
    } else {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            client.region()
        )
        .into_bytes()
    };
    match client.s3_put(&format!("/{bucket}"), body).await {
        Ok(()) => Ok(()),
        Err(e) if e.downcast_ref::<ServiceError>().is_some_and(|e| e.code == "BucketAlreadyOwnedByYou") => Ok(()),
        Err(e) => Err(e.context(format!("creating the bucket {bucket}"))),
    }
}

async fn cfn(client: &Client, action: &str, params: &[(String, String)]) -> Result<Element> {
    client.query("cloudformation", CFN_VERSION, action, params).await
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis())
}
