//! DynamoDB's errors, with its codes and messages.

use brume_core::AwsError;

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

/// DynamoDB's most common validation prefix.
pub fn invalid(detail: &str) -> AwsError {
    validation(format!("One or more parameter values were invalid: {detail}"))
}

/// A data-plane operation on a table (or index) that does not exist.
pub fn resource_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "Requested resource not found")
}

/// A control-plane operation naming a table that does not exist.
pub fn table_not_found(name: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", format!("Requested resource not found: Table: {name} not found"))
}

pub fn resource_in_use(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceInUseException", message)
}

pub fn conditional_check_failed() -> AwsError {
    AwsError::new(400, "ConditionalCheckFailedException", "The conditional request failed")
}

pub fn key_mismatch() -> AwsError {
    validation("The provided key element does not match the schema")
}

/// A constraint of the model, reported as AWS's request validator does.
pub fn constraint(value: impl std::fmt::Display, at: &str, constraint: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: {constraint}"
    ))
}
