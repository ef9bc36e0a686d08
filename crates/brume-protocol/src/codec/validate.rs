//! The checks AWS front ends make on every input before the service sees it: required
//! members present. Messages are AWS's (`1 validation error detected: Value null at
//! 'roleArn' failed to satisfy constraint: Member must not be null`).

use serde_json::Value;

use brume_core::AwsError;

use crate::model::{Protocol, ServiceModel};

pub(super) fn required(
    model: &ServiceModel,
    protocol: Protocol,
    shape_name: &str,
    value: &Value,
) -> Result<(), AwsError> {
    let shape = model.shape(shape_name);
    let missing: Vec<String> = shape
        .required
        .iter()
        .filter(|name| value.get(name.as_str()).is_none_or(Value::is_null))
        .map(|name| {
            format!("Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(name))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let n = missing.len();
    let message = format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, missing.join("; "));
    let code = match protocol {
        Protocol::AwsQuery => "ValidationError",
        _ => "ValidationException",
    };
    Err(AwsError::new(400, code, message))
}

/// AWS reports member names as its Java models spell them: first letter lower-case.
fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::model;
    use serde_json::json;

    #[test]
    fn missing_required_members_are_listed() {
        let m = model("sts").unwrap();
        let err = required(m, Protocol::AwsQuery, "AssumeRoleRequest", &json!({"RoleArn": "a"})).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"
        );
        let err = required(m, Protocol::AwsJson1_0, "AssumeRoleRequest", &json!({})).unwrap_err();
        assert!(err.message.starts_with("2 validation errors detected: "), "{}", err.message);
        assert!(
            required(m, Protocol::AwsQuery, "AssumeRoleRequest", &json!({"RoleArn": "a", "RoleSessionName": "s"}))
                .is_ok()
        );
    }
}
