//! Event filtering for event source mappings: each FilterCriteria pattern is an event
//! pattern over the record as the function would see it, with an SQS message's JSON body
//! matched as JSON. A record passes when any pattern matches it (or there are none).
//! The pattern language is SNS's `MessageBody` filter policies, so the matcher is theirs.

use brume_sns::filter::{self, FilterPolicy, Scope};
use serde_json::Value;

use super::FilterCriteria;
use crate::error;

/// The parsed patterns of a mapping's FilterCriteria.
#[derive(Debug, Default)]
pub struct Filters(Vec<FilterPolicy>);

impl Filters {
    pub fn parse(criteria: &FilterCriteria) -> Result<Filters, brume_core::AwsError> {
        criteria
            .filters
            .iter()
            .map(|f| {
                let pattern = f.pattern.as_deref().unwrap_or_default();
                filter::parse(pattern, Scope::MessageBody)
                    .map_err(|_| error::invalid_parameter("Invalid filter pattern definition."))
            })
            .collect::<Result<_, _>>()
            .map(Filters)
    }

    /// Whether `record` passes the filters.
    pub fn matches(&self, record: &Value) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let mut doc = record.clone();
        if let Some(body) = doc.get("body").and_then(Value::as_str)
            && let Ok(json @ Value::Object(_)) = serde_json::from_str::<Value>(body)
        {
            doc["body"] = json;
        }
        let text = doc.to_string();
        self.0.iter().any(|p| p.matches_body(&text))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::esm::FilterPattern;

    fn filters(patterns: &[Value]) -> Filters {
        let criteria = FilterCriteria {
            filters: patterns.iter().map(|p| FilterPattern { pattern: Some(p.to_string()) }).collect(),
        };
        Filters::parse(&criteria).unwrap()
    }

    #[test]
    fn patterns_match_records_and_json_bodies() {
        let sqs = |body: &str| json!({"messageId": "m", "body": body, "attributes": {"ApproximateReceiveCount": "1"}});
        let ddb = |event: &str, n: &str| json!({"eventName": event, "dynamodb": {"NewImage": {"n": {"N": n}, "s": {"S": "x"}}}});
        let cases = [
            (vec![], sqs("anything"), true),
            (vec![json!({"body": {"kind": ["order"]}})], sqs(r#"{"kind": "order"}"#), true),
            (vec![json!({"body": {"kind": ["order"]}})], sqs(r#"{"kind": "refund"}"#), false),
            (vec![json!({"body": {"kind": ["order"]}})], sqs("order"), false),
            (
                vec![json!({"body": {"kind": ["order"]}}), json!({"body": {"kind": ["refund"]}})],
                sqs(r#"{"kind": "refund"}"#),
                true,
            ),
            (vec![json!({"body": {"n": [{"numeric": [">", 5]}]}})], sqs(r#"{"n": 7}"#), true),
            (vec![json!({"body": {"id": [{"prefix": "a-"}]}})], sqs(r#"{"id": "b-1"}"#), false),
            (vec![json!({"attributes": {"ApproximateReceiveCount": ["1"]}})], sqs("x"), true),
            (vec![json!({"eventName": ["INSERT"]})], ddb("INSERT", "1"), true),
            (vec![json!({"eventName": ["INSERT"]})], ddb("MODIFY", "1"), false),
            (vec![json!({"dynamodb": {"NewImage": {"n": {"N": ["2"]}}}})], ddb("INSERT", "2"), true),
            (
                vec![json!({"dynamodb": {"NewImage": {"missing": {"S": [{"exists": false}]}}}})],
                ddb("INSERT", "2"),
                true,
            ),
        ];
        for (patterns, record, expected) in cases {
            assert_eq!(filters(&patterns).matches(&record), expected, "{patterns:?} on {record}");
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for pattern in ["not json", "[1]", r#"{"body": {"k": [{"numeric": ["<"]}]}}"#] {
            let criteria = FilterCriteria { filters: vec![FilterPattern { pattern: Some(pattern.into()) }] };
            let e = Filters::parse(&criteria).unwrap_err();
            assert_eq!(
                (&*e.code, e.message.as_str()),
                ("InvalidParameterValueException", "Invalid filter pattern definition.")
            );
        }
    }
}
