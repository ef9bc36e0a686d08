//! Step Functions' errors, with AWS's codes and messages.

use brume_core::AwsError;

pub fn state_machine_does_not_exist(arn: &str) -> AwsError {
    AwsError::new(400, "StateMachineDoesNotExist", format!("State Machine Does Not Exist: '{arn}'"))
}

pub fn execution_does_not_exist(arn: &str) -> AwsError {
    AwsError::new(400, "ExecutionDoesNotExist", format!("Execution Does Not Exist: '{arn}'"))
}

pub fn invalid_arn(arn: &str) -> AwsError {
    AwsError::new(400, "InvalidArn", format!("Invalid Arn: 'Resource type not valid in this context: {arn}'"))
}

pub fn invalid_arn_message(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidArn", message)
}

pub fn invalid_name(name: &str) -> AwsError {
    AwsError::new(400, "InvalidName", format!("Invalid Name: '{name}'"))
}

pub fn invalid_definition(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidDefinition", message)
}

pub fn invalid_execution_input(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidExecutionInput", message)
}

pub fn state_machine_already_exists(arn: &str) -> AwsError {
    AwsError::new(400, "StateMachineAlreadyExists", format!("State Machine Already Exists: '{arn}'"))
}

pub fn execution_already_exists(arn: &str) -> AwsError {
    AwsError::new(400, "ExecutionAlreadyExists", format!("Execution Already Exists: '{arn}'"))
}

pub fn state_machine_type_not_supported(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "StateMachineTypeNotSupported", message)
}

pub fn invalid_token(token: &str) -> AwsError {
    AwsError::new(400, "InvalidToken", format!("Invalid Token: '{token}'"))
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

pub fn resource_not_found(arn: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFound", format!("Resource not found: '{arn}'"))
}
