//! AWS::IAM::Role, AWS::IAM::Policy and AWS::IAM::ManagedPolicy. Brume has no IAM service
//! yet: these providers only mint the names, ARNs and ids AWS would answer
//! (`arn:aws:iam::<account>:role/<name>`, `AROA…`) and keep nothing else, so that templates
//! whose functions and state machines name a role deploy. No policy is stored or enforced.

use brume_core::AwsError;
use brume_core::clients::AwsSdkClient;
use serde_json::{Value, json};

use super::{Provider, Provisioned, Request, changed, provisioned, stable_id};

pub(super) struct Role;
pub(super) struct Policy;
pub(super) struct ManagedPolicy;

/// `Path` as IAM writes it in ARNs: `/` unless given.
fn path(request: &Request<'_>) -> String {
    request.text("Path").unwrap_or_else(|| "/".to_string())
}

fn role(request: &Request<'_>, name: &str) -> Provisioned {
    let arn = format!("arn:aws:iam::{}:role{}{name}", request.account, path(request));
    let id = stable_id("AROA", &format!("{}/{arn}", request.stack_id));
    provisioned(name, json!({ "Arn": arn, "RoleId": id }))
}

fn managed_policy(request: &Request<'_>, arn: &str) -> Provisioned {
    let id = stable_id("ANPA", &format!("{}/{arn}", request.stack_id));
    let attributes = json!({
        "PolicyArn": arn,
        "PolicyId": id,
        "DefaultVersionId": "v1",
        "IsAttachable": true,
        "AttachmentCount": 0,
    });
    provisioned(arn, attributes)
}

#[async_trait::async_trait]
impl Provider for Role {
    async fn create(&self, _: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("RoleName").unwrap_or_else(|| request.generated_name(64));
        Ok(role(request, &name))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        r: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(role(r, id))
    }

    async fn delete(&self, _: &dyn AwsSdkClient, _: &Request<'_>, _: &str) -> Result<(), AwsError> {
        Ok(())
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["RoleName", "Path"])
    }
}

#[async_trait::async_trait]
impl Provider for Policy {
    async fn create(&self, _: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        // AWS answers an id made of the stack's and policy's names, cut short, and a suffix.
        let prefix = |s: &str| s.chars().take(5).collect::<String>();
        let id = format!("{}-{}-{}", prefix(request.stack_name), prefix(request.logical_id), request.suffix);
        Ok(provisioned(id.clone(), json!({ "Id": id })))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        _: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(provisioned(id, json!({ "Id": id })))
    }

    async fn delete(&self, _: &dyn AwsSdkClient, _: &Request<'_>, _: &str) -> Result<(), AwsError> {
        Ok(())
    }

    fn replaces(&self, _: &Value, _: &Value) -> bool {
        false
    }
}

#[async_trait::async_trait]
impl Provider for ManagedPolicy {
    async fn create(&self, _: &dyn AwsSdkClient, request: &Request<'_>) -> Result<Provisioned, AwsError> {
        let name = request.text("ManagedPolicyName").unwrap_or_else(|| request.generated_name(128));
        let arn = format!("arn:aws:iam::{}:policy{}{name}", request.account, path(request));
        Ok(managed_policy(request, &arn))
    }

    async fn update(
        &self,
        _: &dyn AwsSdkClient,
        r: &Request<'_>,
        id: &str,
        _: &Value,
    ) -> Result<Provisioned, AwsError> {
        Ok(managed_policy(r, id))
    }

    async fn delete(&self, _: &dyn AwsSdkClient, _: &Request<'_>, _: &str) -> Result<(), AwsError> {
        Ok(())
    }

    fn replaces(&self, old: &Value, new: &Value) -> bool {
        changed(old, new, &["ManagedPolicyName", "Path", "Description"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::tests::request;

    #[test]
    fn roles_answer_their_name_arn_and_a_stable_id() {
        let props = json!({ "RoleName": "worker", "Path": "/app/" });
        let r = request(&props, &[]);
        let p = role(&r, "worker");
        assert_eq!(p.physical_id, "worker");
        assert_eq!(p.attributes["Arn"], "arn:aws:iam::123456789012:role/app/worker");
        assert!(p.attributes["RoleId"].as_str().unwrap().starts_with("AROA"));
        assert_eq!(p, role(&r, "worker"));
        assert!(Role.replaces(&json!({ "RoleName": "a" }), &json!({ "RoleName": "b" })));
        assert!(!Role.replaces(&json!({ "RoleName": "a" }), &json!({ "RoleName": "a", "Description": "d" })));
    }
}
