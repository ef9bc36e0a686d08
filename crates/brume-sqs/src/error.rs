//! SQS's errors, with AWS's codes and messages.

use brume_core::AwsError;

pub fn queue_does_not_exist() -> AwsError {
    AwsError::new(400, "QueueDoesNotExist", "The specified queue does not exist.")
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValue", message)
}

pub fn invalid_attribute_name(name: &str) -> AwsError {
    AwsError::new(400, "InvalidAttributeName", format!("Unknown Attribute {name}."))
}

pub fn invalid_attribute_value(name: &str) -> AwsError {
    AwsError::new(400, "InvalidAttributeValue", format!("Invalid value for the parameter {name}."))
}

pub fn receipt_handle_invalid(handle: &str) -> AwsError {
    AwsError::new(
        400,
        "ReceiptHandleIsInvalid",
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}
