//! Why a request failed authentication, and the error AWS answers for it, which differs by
//! service family (S3's XML errors, the JSON services' exceptions, the query services' codes).

use std::time::SystemTime;

use brume_core::AwsError;

/// How long a signature stays valid around the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The longest `X-Amz-Expires` AWS accepts: seven days.
pub const MAX_PRESIGN_EXPIRES: i64 = 7 * 24 * 3600;

/// Why authentication failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Neither an `Authorization` header nor `X-Amz-Algorithm` query parameter.
    #[error("request is not signed")]
    MissingAuthentication,
    /// The authorization header or query parameters cannot be understood.
    #[error("malformed authorization: {kind:?}")]
    Malformed { kind: Malformed, presigned: bool },
    /// S3 needs `x-amz-content-sha256` to sign a body it streams, and it is absent.
    #[error("missing x-amz-content-sha256")]
    MissingContentSha256,
    /// `x-amz-content-sha256` is neither a hex SHA-256 nor a known keyword.
    #[error("invalid x-amz-content-sha256 {0:?}")]
    InvalidContentSha256(String),
    #[error("unknown access key id {access_key_id}")]
    UnknownAccessKey { access_key_id: String },
    #[error("signature mismatch for access key id {}", .0.access_key_id)]
    SignatureMismatch(Box<SignatureMismatch>),
    /// The signing time is more than 15 minutes away from the server's clock.
    #[error("request time {request_time} too far from server time")]
    RequestTimeTooSkewed {
        /// The request's date as sent (`X-Amz-Date` or `Date`).
        request_time: String,
        /// The request's date parsed.
        signed_at: SystemTime,
        server_time: SystemTime,
    },
    /// A presigned S3 URL whose `X-Amz-Expires` has passed.
    #[error("presigned request expired")]
    PresignedExpired { expires_in: i64, expired_at: SystemTime, server_time: SystemTime },
    /// Temporary credentials whose expiry has passed.
    #[error("security token expired")]
    ExpiredToken,
    /// Temporary credentials without their session token or with another one.
    #[error("security token invalid")]
    InvalidToken,
}

/// The details S3 reports on a signature mismatch (and the debug log shows). The secret is
/// never part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureMismatch {
    pub access_key_id: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature_provided: String,
}

/// What is wrong with the authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// An algorithm other than `AWS4-HMAC-SHA256` (SigV2, SigV4a).
    UnsupportedAlgorithm(String),
    /// Both the header and the query parameters carry a signature.
    ConflictingMechanisms,
    /// `Credential`, `SignedHeaders` or `Signature` is missing from the header.
    MissingComponent(&'static str),
    /// A query-string signature without all six `X-Amz-*` parameters.
    MissingQueryParameters,
    /// A component that is not `Name=value`.
    BadComponent(String),
    /// The credential is not `AKID/YYYYMMDD/REGION/SERVICE/aws4_request`.
    BadCredential(String),
    /// Neither `X-Amz-Date` nor `Date` is there, or it does not parse.
    MissingDate,
    /// `X-Amz-Date` of a presigned request does not parse.
    BadDate(String),
    /// The credential's date is not the day of `X-Amz-Date`.
    CredentialDateMismatch {
        credential_date: String,
        request_date: String,
    },
    BadExpires(String),
    ExpiresTooLarge,
}

/// The families of services that report authentication failures alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceFamily {
    /// S3: restXml errors with extra fields, mostly 403.
    S3,
    /// awsJson services (DynamoDB, Step Functions, CloudWatch Logs…): `…Exception`, 400.
    AwsJson,
    /// restJson services (Lambda, API Gateway…): `…Exception`, 403.
    RestJson,
    /// awsQuery services and their query-compatible JSON successors (STS, IAM, SNS, SQS,
    /// CloudFormation, CloudWatch): bare codes, 403.
    Query,
}

impl ServiceFamily {
    /// The family of the service with this SigV4 signing name.
    pub fn of_signing_name(service: &str) -> ServiceFamily {
        match service {
            "s3" => ServiceFamily::S3,
            "sts"
            | "iam"
            | "sns"
            | "sqs"
            | "cloudformation"
            | "monitoring"
            | "ses"
            | "ec2"
            | "elasticloadbalancing"
            | "autoscaling"
            | "rds"
            | "elasticache"
            | "redshift" => ServiceFamily::Query,
            "lambda" | "apigateway" | "execute-api" | "scheduler" | "pipes" | "appsync" | "cognito-identity-pool" => {
                ServiceFamily::RestJson
            }
            _ => ServiceFamily::AwsJson,
        }
    }
}

const JSON_SIGNATURE_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const S3_SIGNATURE_MESSAGE: &str =
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

impl AuthFailure {
    /// The error AWS answers for this failure in services of `family`.
    pub fn to_aws_error(&self, family: ServiceFamily) -> AwsError {
        use ServiceFamily::*;
        // The JSON services use one `…Exception` code at 400 (awsJson) or 403 (restJson); the
        // query services use the bare code at 403.
        let json_status = if family == RestJson { 403 } else { 400 };
        match self {
            AuthFailure::MissingAuthentication => match family {
                S3 => AwsError::new(403, "AccessDenied", "Access Denied."),
                AwsJson => {
                    AwsError::new(400, "MissingAuthenticationTokenException", "Request is missing Authentication Token")
                }
                RestJson => AwsError::new(403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
                Query => AwsError::new(403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
            },
            AuthFailure::Malformed { kind, presigned } => malformed_error(kind, *presigned, family),
            AuthFailure::MissingContentSha256 => match family {
                S3 => AwsError::new(
                    400,
                    "InvalidRequest",
                    "Missing required header for this request: x-amz-content-sha256",
                ),
                _ => incomplete_signature(family, "Missing required header for this request: x-amz-content-sha256"),
            },
            AuthFailure::InvalidContentSha256(_) => {
                let message = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.";
                match family {
                    S3 => AwsError::new(400, "InvalidArgument", message),
                    _ => incomplete_signature(family, message),
                }
            }
            AuthFailure::UnknownAccessKey { access_key_id } => match family {
                S3 => AwsError::new(
                    403,
                    "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.",
                )
                .with_field("AWSAccessKeyId", access_key_id),
                AwsJson | RestJson => AwsError::new(
                    json_status,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ),
                Query => {
                    AwsError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid")
                }
            },
            AuthFailure::SignatureMismatch(m) => match family {
                S3 => AwsError::new(403, "SignatureDoesNotMatch", S3_SIGNATURE_MESSAGE)
                    .with_field("AWSAccessKeyId", &m.access_key_id)
                    .with_field("StringToSign", &m.string_to_sign)
                    .with_field("SignatureProvided", &m.signature_provided)
                    .with_field("StringToSignBytes", spaced_hex(&m.string_to_sign))
                    .with_field("CanonicalRequest", &m.canonical_request)
                    .with_field("CanonicalRequestBytes", spaced_hex(&m.canonical_request)),
                // The coral services explain what they expected right in the message.
                _ => {
                    let message = format!(
                        "{JSON_SIGNATURE_MESSAGE}\n\nThe Canonical String for this request should have been\n'{}'\n\nThe String-to-Sign should have been\n'{}'\n",
                        m.canonical_request, m.string_to_sign
                    );
                    match family {
                        Query => AwsError::new(403, "SignatureDoesNotMatch", message),
                        _ => AwsError::new(json_status, "InvalidSignatureException", message),
                    }
                }
            },
            AuthFailure::RequestTimeTooSkewed { request_time, signed_at, server_time } => match family {
                S3 => AwsError::new(
                    403,
                    "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large.",
                )
                .with_field("RequestTime", request_time)
                .with_field("ServerTime", iso8601(*server_time))
                .with_field("MaxAllowedSkewMilliseconds", (MAX_SKEW_SECONDS * 1000).to_string()),
                _ => {
                    let skew = std::time::Duration::from_secs(MAX_SKEW_SECONDS as u64);
                    let message = if signed_at < server_time {
                        format!(
                            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                            amz_date(*signed_at),
                            amz_date(*server_time - skew),
                            amz_date(*server_time)
                        )
                    } else {
                        format!(
                            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                            amz_date(*signed_at),
                            amz_date(*server_time + skew),
                            amz_date(*server_time)
                        )
                    };
                    match family {
                        Query => AwsError::new(403, "SignatureDoesNotMatch", message),
                        _ => AwsError::new(json_status, "InvalidSignatureException", message),
                    }
                }
            },
            AuthFailure::PresignedExpired { expires_in, expired_at, server_time } => match family {
                S3 => AwsError::new(403, "AccessDenied", "Request has expired.")
                    .with_field("X-Amz-Expires", expires_in.to_string())
                    .with_field("Expires", iso8601(*expired_at))
                    .with_field("ServerTime", iso8601(*server_time)),
                Query => AwsError::new(403, "AccessDenied", "Request has expired."),
                _ => AwsError::new(json_status, "AccessDeniedException", "Request has expired."),
            },
            AuthFailure::ExpiredToken => match family {
                S3 => AwsError::new(400, "ExpiredToken", "The provided token has expired."),
                AwsJson | RestJson => AwsError::new(
                    json_status,
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                ),
                Query => AwsError::new(403, "ExpiredToken", "The security token included in the request is expired"),
            },
            AuthFailure::InvalidToken => match family {
                S3 => AwsError::new(400, "InvalidToken", "The provided token is malformed or otherwise invalid."),
                AwsJson | RestJson => AwsError::new(
                    json_status,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ),
                Query => {
                    AwsError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid")
                }
            },
        }
    }
}

fn incomplete_signature(family: ServiceFamily, message: impl Into<String>) -> AwsError {
    match family {
        ServiceFamily::Query => AwsError::new(400, "IncompleteSignature", message),
        _ => AwsError::new(400, "IncompleteSignatureException", message),
    }
}

fn malformed_error(kind: &Malformed, presigned: bool, family: ServiceFamily) -> AwsError {
    const CREDENTIAL_SHAPE: &str =
        "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
    if family == ServiceFamily::S3 {
        let header = |detail: String| {
            AwsError::new(
                400,
                "AuthorizationHeaderMalformed",
                format!("The authorization header is malformed; {detail}"),
            )
        };
        let query = |message: String| AwsError::new(400, "AuthorizationQueryParametersError", message);
        return match kind {
            Malformed::UnsupportedAlgorithm(_) if presigned => {
                query("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256\"".into())
            }
            Malformed::UnsupportedAlgorithm(_) => AwsError::new(
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ),
            Malformed::ConflictingMechanisms => AwsError::new(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            ),
            Malformed::MissingComponent(name) => header(format!("missing {name}.")),
            Malformed::BadComponent(component) => header(format!("the authorization component \"{component}\" is malformed.")),
            Malformed::MissingQueryParameters => query(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".into(),
            ),
            Malformed::BadCredential(_) if presigned => query(format!("Error parsing the X-Amz-Credential parameter; {CREDENTIAL_SHAPE}")),
            Malformed::BadCredential(_) => header(CREDENTIAL_SHAPE.into()),
            Malformed::MissingDate => AwsError::new(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"),
            Malformed::BadDate(_) => query("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"".into()),
            Malformed::CredentialDateMismatch { credential_date, request_date } if presigned => query(format!(
                "Invalid credential date \"{credential_date}\". This date is not the same as X-Amz-Date: \"{request_date}\"."
            )),
            Malformed::CredentialDateMismatch { .. } => header("Invalid credential date. Date is not the same as X-Amz-Date.".into()),
            Malformed::BadExpires(_) => query("X-Amz-Expires should be a number".into()),
            Malformed::ExpiresTooLarge => query(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds".into(),
            ),
        };
    }
    let message = match kind {
        Malformed::UnsupportedAlgorithm(algorithm) => format!("Unsupported AWS 'algorithm': '{algorithm}'"),
        Malformed::ConflictingMechanisms => {
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".into()
        }
        Malformed::MissingComponent(name) => format!("Authorization header requires '{name}' parameter."),
        Malformed::BadComponent(component) => format!("'{component}' not a valid key=value pair (missing equal-sign) in Authorization header"),
        Malformed::MissingQueryParameters => "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Expires'.".into(),
        Malformed::BadCredential(credential) => format!(
            "Credential should be scoped to a valid region, not '{}'. Credential should be scoped to correct service. Credential should have 5 parts: '{credential}'.",
            credential.split('/').nth(2).unwrap_or_default()
        ),
        Malformed::MissingDate => "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into(),
        Malformed::BadDate(date) => format!("Date must be in ISO-8601 'basic format'. Got '{date}'."),
        Malformed::CredentialDateMismatch { credential_date, request_date } => {
            format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{credential_date}' != '{request_date}'")
        }
        Malformed::BadExpires(value) => format!("X-Amz-Expires must be a number of seconds, not '{value}'."),
        Malformed::ExpiresTooLarge => "X-Amz-Expires must be less than a week (in seconds) that is 604800".into(),
    };
    incomplete_signature(family, message)
}

/// S3's `…Bytes` fields: every byte as two hex digits, separated by spaces.
fn spaced_hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// `2024-01-01T00:00:00Z`, as S3 reports server times.
fn iso8601(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `20240101T000000Z`, the SigV4 timestamp format.
pub(crate) fn amz_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
