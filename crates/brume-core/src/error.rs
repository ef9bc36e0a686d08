use std::borrow::Cow;
use std::fmt;

/// Which side AWS blames for a failure; the query protocols render it as `<Type>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Sender,
    Receiver,
}

/// The one error type of Brume: an AWS error code, HTTP status, message and fault side.
///
/// `code` is the error shape name of the service model (`QueueDoesNotExist`,
/// `NoSuchBucket`); the protocol layer maps it to the wire code a protocol wants (for
/// example the awsQuery-compatible code declared in the model) when it renders.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsError {
    pub code: Cow<'static, str>,
    pub status: u16,
    pub message: String,
    pub fault: Fault,
    /// Extra members of the error shape (`BucketName`, `Resource`…), rendered beside the
    /// message by the protocols that carry them.
    pub fields: Vec<(String, String)>,
    /// Extra response headers (`Retry-After`, S3's `x-amz-delete-marker`…).
    pub headers: Vec<(String, String)>,
    /// Members of the error shape that are not strings (DynamoDB's `CancellationReasons`
    /// list, the `Item` of a failed condition), in the canonical form; the JSON protocols
    /// render them beside the message. Boxed: errors travel in every `Result` and stay small.
    pub members: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        let fault = if status >= 500 { Fault::Receiver } else { Fault::Sender };
        AwsError {
            code: code.into(),
            status,
            message: message.into(),
            fault,
            fields: Vec::new(),
            headers: Vec::new(),
            members: None,
        }
    }

    /// A 400 `ValidationError`/`ValidationException` is service-specific; this is the
    /// common `ValidationException` spelling used by the JSON services.
    pub fn validation(message: impl Into<String>) -> Self {
        AwsError::new(400, "ValidationException", message)
    }

    /// An unexpected failure inside Brume. The detail is logged, never sent.
    pub fn internal() -> Self {
        AwsError::new(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// An operation that exists in AWS's model but that Brume has not built yet.
    pub fn not_implemented(service: &str, operation: &str) -> Self {
        AwsError::new(501, "NotImplemented", format!("Brume does not implement {service}.{operation} yet"))
    }

    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    pub fn with_member(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.members.get_or_insert_default().insert(name.into(), value);
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}
