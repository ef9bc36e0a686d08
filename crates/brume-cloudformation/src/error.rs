//! CloudFormation's errors, with AWS's codes (the model's shape names, which the codec
//! writes as their awsQuery codes) and messages.

use brume_core::AwsError;

/// CloudFormation's generic 400: `ValidationError`.
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

pub fn stack_not_found(name: &str) -> AwsError {
    validation(format!("Stack with id {name} does not exist"))
}

pub fn already_exists(name: &str) -> AwsError {
    AwsError::new(400, "AlreadyExistsException", format!("Stack [{name}] already exists"))
}

pub fn change_set_not_found(name: &str) -> AwsError {
    AwsError::new(404, "ChangeSetNotFoundException", format!("ChangeSet [{name}] does not exist"))
}

pub fn insufficient_capabilities(missing: &[String]) -> AwsError {
    AwsError::new(400, "InsufficientCapabilitiesException", format!("Requires capabilities : [{}]", missing.join(", ")))
}

/// A stack in the middle of an operation that cannot start another.
pub fn in_progress(name: &str, status: &str, operation: &str) -> AwsError {
    validation(format!("Stack:{name} is in {status} state and can not be {operation}"))
}
