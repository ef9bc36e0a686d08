//! SNS's errors, with AWS's codes (the model's shape names; the codec writes their
//! awsQuery codes: `NotFound`, `InvalidParameter`…) and messages.

use brume_core::AwsError;

pub fn topic_not_found() -> AwsError {
    AwsError::new(404, "NotFoundException", "Topic does not exist")
}

pub fn subscription_not_found() -> AwsError {
    AwsError::new(404, "NotFoundException", "Subscription does not exist")
}

pub fn resource_not_found() -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", "Resource does not exist")
}

/// `Invalid parameter: <what>`.
pub fn invalid_parameter(what: impl std::fmt::Display) -> AwsError {
    AwsError::new(400, "InvalidParameterException", format!("Invalid parameter: {what}"))
}

pub fn invalid_parameter_value(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

pub fn authorization(message: impl Into<String>) -> AwsError {
    AwsError::new(403, "AuthorizationErrorException", message)
}

pub fn filter_policy(message: &str) -> AwsError {
    invalid_parameter(format!("FilterPolicy: {message}"))
}
