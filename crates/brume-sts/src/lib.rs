//! AWS Security Token Service (awsQuery): who is calling (`GetCallerIdentity`), whose a
//! key is (`GetAccessKeyInfo`), and temporary credentials (`GetSessionToken`,
//! `AssumeRole`, `GetFederationToken`) that the SigV4 verifier accepts until they expire.
//!
//! Roles are not checked against IAM yet: any well-formed role ARN can be assumed, in the
//! account the ARN names. Nor are policies: session policies are accepted and not applied.

mod sessions;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brume_auth::{CredentialStore, SessionCredentials};
use brume_core::value::Timestamp;
use brume_core::{AwsError, Principal, RequestContext};
use brume_protocol::{Service, ServiceBuilder};
use serde::{Deserialize, Serialize};

pub use sessions::{KEYSPACE, KvSessions};

/// STS's state: the credential store it issues temporary credentials into.
pub struct Sts {
    credentials: Arc<CredentialStore>,
}

/// The STS service, ready for the gateway.
pub fn service(credentials: Arc<CredentialStore>) -> Service {
    ServiceBuilder::new("sts", Arc::new(Sts { credentials }))
        .op("GetCallerIdentity", Sts::get_caller_identity)
        .op("GetSessionToken", Sts::get_session_token)
        .op("AssumeRole", Sts::assume_role)
        .op("GetFederationToken", Sts::get_federation_token)
        .op("GetAccessKeyInfo", Sts::get_access_key_info)
        .build()
}

#[derive(Deserialize)]
pub struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    user_id: String,
    account: String,
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenInput {
    duration_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSessionTokenOutput {
    credentials: Credentials,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleInput {
    role_arn: String,
    role_session_name: String,
    duration_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleOutput {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
    packed_policy_size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFederationTokenInput {
    name: String,
    duration_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FederatedUser {
    federated_user_id: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFederationTokenOutput {
    credentials: Credentials,
    federated_user: FederatedUser,
    packed_policy_size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyInfoInput {
    access_key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccessKeyInfoOutput {
    account: String,
}

/// Whether `principal` signs with temporary credentials, which cannot ask for more.
fn is_session(principal: &Principal) -> bool {
    matches!(principal, Principal::AssumedRole { .. } | Principal::Session { .. } | Principal::FederatedUser { .. })
}

impl Sts {
    async fn get_caller_identity(self: Arc<Self>, ctx: RequestContext, _: Empty) -> Result<CallerIdentity, AwsError> {
        let user_id = match &ctx.principal {
            Principal::AssumedRole { role_name, session_name } => {
                format!("{}:{session_name}", unique_id("AROA", &ctx.account, role_name))
            }
            Principal::User { name } => unique_id("AIDA", &ctx.account, name),
            Principal::FederatedUser { name } => format!("{}:{name}", ctx.account),
            _ => ctx.account.clone(),
        };
        Ok(CallerIdentity { user_id, arn: ctx.caller_arn(), account: ctx.account })
    }

    /// The account of an access key: Brume's own keys by their record, others by the account
    /// AWS writes into the keys it has made since 2019; older keys, whose account cannot be
    /// read from them, belong to the default account here.
    async fn get_access_key_info(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: GetAccessKeyInfoInput,
    ) -> Result<GetAccessKeyInfoOutput, AwsError> {
        let account = match self.credentials.lookup(&input.access_key_id) {
            Some(credential) => credential.account,
            None => {
                account_in_key(&input.access_key_id).unwrap_or_else(|| self.credentials.default_account().to_string())
            }
        };
        Ok(GetAccessKeyInfoOutput { account })
    }

    async fn get_session_token(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetSessionTokenInput,
    ) -> Result<GetSessionTokenOutput, AwsError> {
        if is_session(&ctx.principal) {
            return Err(AwsError::new(403, "AccessDenied", "Cannot call GetSessionToken with session credentials"));
        }
        let duration = duration(input.duration_seconds, 43_200, 129_600)?;
        let principal = Principal::Session { parent: Box::new(ctx.principal.clone()) };
        let session = self.issue(&ctx.account, principal, duration).await?;
        Ok(GetSessionTokenOutput { credentials: credentials(session) })
    }

    async fn assume_role(
        self: Arc<Self>,
        _ctx: RequestContext,
        input: AssumeRoleInput,
    ) -> Result<AssumeRoleOutput, AwsError> {
        let (account, role_name) = parse_role_arn(&input.role_arn)?;
        check_name(&input.role_session_name, "roleSessionName", 64)?;
        let duration = duration(input.duration_seconds, 3_600, 43_200)?;
        let principal =
            Principal::AssumedRole { role_name: role_name.clone(), session_name: input.role_session_name.clone() };
        let session = self.issue(&account, principal, duration).await?;
        Ok(AssumeRoleOutput {
            credentials: credentials(session),
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: format!("{}:{}", unique_id("AROA", &account, &role_name), input.role_session_name),
                arn: format!("arn:aws:sts::{account}:assumed-role/{role_name}/{}", input.role_session_name),
            },
            packed_policy_size: 0,
        })
    }

    async fn get_federation_token(
        self: Arc<Self>,
        ctx: RequestContext,
        input: GetFederationTokenInput,
    ) -> Result<GetFederationTokenOutput, AwsError> {
        check_name(&input.name, "name", 32)?;
        let mut duration = duration(input.duration_seconds, 43_200, 129_600)?;
        if is_session(&ctx.principal) {
            return Err(AwsError::new(403, "AccessDenied", "Cannot call GetFederationToken with session credentials"));
        }
        // The root user's federated sessions last an hour at most; a longer request is cut
        // to the hour rather than refused.
        if ctx.principal == Principal::Root {
            duration = duration.min(Duration::from_secs(3_600));
        }
        let principal = Principal::FederatedUser { name: input.name.clone() };
        let session = self.issue(&ctx.account, principal, duration).await?;
        Ok(GetFederationTokenOutput {
            credentials: credentials(session),
            federated_user: FederatedUser {
                federated_user_id: format!("{}:{}", ctx.account, input.name),
                arn: format!("arn:aws:sts::{}:federated-user/{}", ctx.account, input.name),
            },
            packed_policy_size: 0,
        })
    }

    /// Issues and persists credentials off the async workers: persisting waits on a
    /// durable storage commit.
    async fn issue(
        &self,
        account: &str,
        principal: Principal,
        duration: Duration,
    ) -> Result<SessionCredentials, AwsError> {
        let expiration = SystemTime::now() + duration;
        let store = self.credentials.clone();
        let account = account.to_string();
        tokio::task::spawn_blocking(move || store.issue_session(&account, principal, expiration))
            .await
            .map_err(|_| AwsError::internal())?
            .map_err(|e| {
                tracing::error!(error = %e, "persisting temporary credentials failed");
                AwsError::internal()
            })
    }
}

fn credentials(s: SessionCredentials) -> Credentials {
    let secs = s.expiration.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    Credentials {
        access_key_id: s.access_key_id,
        secret_access_key: s.secret_access_key,
        session_token: s.session_token,
        expiration: Timestamp::from_unix_seconds(secs),
    }
}

/// The requested duration within AWS's bounds, with AWS's validation message otherwise.
fn duration(requested: Option<i64>, default: i64, max: i64) -> Result<Duration, AwsError> {
    let secs = requested.unwrap_or(default);
    if secs < 900 {
        return Err(AwsError::new(
            400,
            "ValidationError",
            format!(
                "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"
            ),
        ));
    }
    if secs > max {
        return Err(AwsError::new(
            400,
            "ValidationError",
            format!(
                "1 validation error detected: Value '{secs}' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to {max}"
            ),
        ));
    }
    Ok(Duration::from_secs(secs as u64))
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME` → (account, name).
fn parse_role_arn(arn: &str) -> Result<(String, String), AwsError> {
    let invalid = || AwsError::new(400, "ValidationError", format!("{arn} is invalid"));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(invalid)?;
    let (account, resource) = rest.split_once(':').ok_or_else(invalid)?;
    let path = resource.strip_prefix("role/").ok_or_else(invalid)?;
    let name = path.rsplit('/').next().unwrap_or("");
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return Err(invalid());
    }
    Ok((account.to_string(), name.to_string()))
}

/// Session and federated user names are 2 to `max` characters of `[\w+=,.@-]`.
fn check_name(name: &str, member: &str, max: usize) -> Result<(), AwsError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    let constraint = if name.len() < 2 {
        "Member must have length greater than or equal to 2".to_string()
    } else if name.len() > max {
        format!("Member must have length less than or equal to {max}")
    } else if !name.chars().all(ok_char) {
        "Member must satisfy regular expression pattern: [\\w+=,.@-]*".to_string()
    } else {
        return Ok(());
    };
    Err(AwsError::new(
        400,
        "ValidationError",
        format!("1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: {constraint}"),
    ))
}

/// A stable unique id in AWS's form (`AROA` + 17 characters) for a role or user name, so
/// the same role reports the same id every time.
fn unique_id(prefix: &str, account: &str, name: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    // FNV-1a: stable across runs and versions, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in account.bytes().chain([b':']).chain(name.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut id = String::from(prefix);
    for i in 0..17 {
        id.push(char::from(CHARS[((h >> ((i * 5) % 60)) as usize + i) % CHARS.len()]));
    }
    id
}

/// The account in an access key id of AWS's current generation: after the four-letter
/// prefix, base32 characters whose first bit marks the generation and whose next 40 bits
/// are the account number.
fn account_in_key(key: &str) -> Option<String> {
    let mut bits: u64 = 0;
    for c in key.as_bytes().get(4..14)? {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        bits = bits << 5 | u64::from(value);
    }
    // Ten characters are 50 bits; the account lies in the first 48.
    let head = bits >> 2;
    (head >> 47 == 1).then(|| format!("{:012}", (head & 0x7fff_ffff_ff80) >> 7))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_and_session_names_are_checked() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/a/b/R").unwrap(),
            ("123456789012".into(), "R".into())
        );
        assert!(parse_role_arn("arn:aws:iam::1234:role/R").is_err());
        assert!(parse_role_arn("arn:aws:iam::123456789012:user/R").is_err());
        assert!(check_name("ok-name@x", "roleSessionName", 64).is_ok());
        assert!(check_name("x", "roleSessionName", 64).is_err());
        assert!(check_name("bad name", "roleSessionName", 64).is_err());
        assert!(check_name(&"n".repeat(33), "name", 32).is_err());
    }

    #[test]
    fn access_keys_of_the_current_generation_carry_their_account() {
        // A key and the account GetAccessKeyInfo answered for it on AWS (published research).
        assert_eq!(account_in_key("ASIAY34FZKBOKMUTVV7A").as_deref(), Some("609629065308"));
        // Keys of the old generation, and keys that are not AWS's shape, carry none.
        assert_eq!(account_in_key("AKIAIOSFODNN7EXAMPLE"), None);
        assert_eq!(account_in_key("ASIAY34FZKBOK"), None);
        assert_eq!(account_in_key("ASIAy34fzkbokmutvv7a"), None);
    }

    #[test]
    fn durations_follow_aws_bounds() {
        assert_eq!(duration(None, 3600, 43200).unwrap(), Duration::from_secs(3600));
        assert_eq!(duration(Some(899), 3600, 43200).unwrap_err().code, "ValidationError");
        assert!(duration(Some(43201), 3600, 43200).unwrap_err().message.contains("less than or equal to 43200"));
    }

    #[test]
    fn unique_ids_are_stable_and_shaped_like_aws() {
        let a = unique_id("AROA", "000000000000", "role");
        assert_eq!(a, unique_id("AROA", "000000000000", "role"));
        assert_ne!(a, unique_id("AROA", "000000000000", "other"));
        assert_eq!(a.len(), 21);
    }
}
