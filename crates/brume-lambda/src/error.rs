//! Lambda's errors, with AWS's codes and messages. Lambda's JSON errors carry a `Type`
//! (`User` or `Service`) beside the message.

use brume_core::AwsError;

fn user(status: u16, code: &'static str, message: impl Into<String>) -> AwsError {
    AwsError::new(status, code, message).with_member("Type", serde_json::Value::String("User".into()))
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    user(404, "ResourceNotFoundException", message)
}

/// `Function not found: ARN`, as Lambda words it for a function, version or alias.
pub fn function_not_found(arn: &str) -> AwsError {
    not_found(format!("Function not found: {arn}"))
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    user(400, "InvalidParameterValueException", message)
}

pub fn conflict(message: impl Into<String>) -> AwsError {
    user(409, "ResourceConflictException", message)
}

pub fn too_many_requests(message: impl Into<String>, reason: &str) -> AwsError {
    user(429, "TooManyRequestsException", message).with_member("Reason", serde_json::Value::String(reason.into()))
}

pub fn request_too_large(message: impl Into<String>) -> AwsError {
    user(413, "RequestTooLargeException", message)
}

pub fn service_exception(message: impl Into<String>) -> AwsError {
    AwsError::new(500, "ServiceException", message)
        .with_member("Type", serde_json::Value::String("Service".into()))
        .with_fault(brume_core::Fault::Receiver)
}
