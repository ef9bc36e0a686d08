//! CloudWatch Logs' errors, with AWS's codes and messages.

use brume_core::AwsError;

pub fn group_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "The specified log group does not exist.")
}

pub fn stream_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "The specified log stream does not exist.")
}

pub fn group_exists() -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", "The specified log group already exists")
}

pub fn stream_exists() -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", "The specified log stream already exists")
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", message)
}

/// A member outside its model constraint, in the words of AWS's front end (which no
/// longer shows the value).
pub fn constraint(member: &str, constraint: &str) -> AwsError {
    invalid_parameter(format!(
        "1 validation error detected: Value at '{member}' failed to satisfy constraint: {constraint}"
    ))
}
