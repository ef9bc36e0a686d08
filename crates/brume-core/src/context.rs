/// Who made a request, as established by the authentication layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The account's root user (the `test` key, or a 12-digit access key id).
    Root,
    /// An IAM user of the account.
    User { name: String },
    /// A role session from `AssumeRole`.
    AssumedRole { role_name: String, session_name: String },
    /// A federated session from `GetSessionToken` by a user or root.
    Session { parent: Box<Principal> },
    /// A federated user from `GetFederationToken`, by the name the caller gave it.
    FederatedUser { name: String },
    /// No credentials (anonymous S3 access, presigned-free public reads).
    Anonymous,
}

/// What every handler knows about its request: who, where, and its id.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub account: String,
    pub region: String,
    pub principal: Principal,
    /// The access key id the request was signed with, when it was signed.
    pub access_key_id: Option<String>,
}

impl RequestContext {
    pub fn new(account: impl Into<String>, region: impl Into<String>) -> Self {
        RequestContext {
            request_id: crate::new_request_id(),
            account: account.into(),
            region: region.into(),
            principal: Principal::Root,
            access_key_id: None,
        }
    }

    /// The ARN of the caller, as `sts:GetCallerIdentity` reports it.
    pub fn caller_arn(&self) -> String {
        arn_of(&self.principal, &self.account)
    }
}

fn arn_of(principal: &Principal, account: &str) -> String {
    match principal {
        Principal::Root | Principal::Anonymous => format!("arn:aws:iam::{account}:root"),
        Principal::User { name } => format!("arn:aws:iam::{account}:user/{name}"),
        Principal::AssumedRole { role_name, session_name } => {
            format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}")
        }
        Principal::Session { parent } => arn_of(parent, account),
        Principal::FederatedUser { name } => format!("arn:aws:sts::{account}:federated-user/{name}"),
    }
}

/// Whether `name` has the shape of an AWS region's name (`eu-west-1`): three or more
/// dashed parts, the last a number.
pub fn looks_like_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3 && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}
