//! Retry and Catch: which retrier or catcher an error name matches, and the retry delay
//! (IntervalSeconds × BackoffRate^attempt, capped by MaxDelaySeconds, with full jitter).

use serde_json::Value;

/// Matches every error name but the terminal ones.
pub const ALL: &str = "States.ALL";
/// Matches every error name but the terminal ones and `States.Timeout`.
pub const TASK_FAILED: &str = "States.TaskFailed";

const DEFAULT_INTERVAL_SECONDS: f64 = 1.0;
const DEFAULT_MAX_ATTEMPTS: u64 = 3;
const DEFAULT_BACKOFF_RATE: f64 = 2.0;

/// Whether an `ErrorEquals` list matches `error`. `States.Runtime` is never retried nor
/// caught; `States.DataLimitExceeded` only when named.
pub fn error_matches(error_equals: &[Value], error: &str) -> bool {
    if error == "States.Runtime" {
        return false;
    }
    let terminal = error == "States.DataLimitExceeded";
    error_equals.iter().filter_map(Value::as_str).any(|name| match name {
        ALL => !terminal,
        TASK_FAILED => !terminal && error != "States.Timeout",
        name => name == error,
    })
}

fn error_equals(rule: &Value) -> &[Value] {
    rule.get("ErrorEquals").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

pub fn retry_delay(retriers: &[Value], error: &str, attempts: &mut Vec<u32>, random: f64) -> Option<u64> {
    if attempts.len() < retriers.len() {
        attempts.resize(retriers.len(), 0);
    }
    let index = retriers.iter().position(|r| error_matches(error_equals(r), error))?;
    let retrier = &retriers[index];
    let max_attempts = retrier.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(DEFAULT_MAX_ATTEMPTS);
    let attempt = attempts[index];
    if u64::from(attempt) >= max_attempts {
        return None;
    }
    attempts[index] += 1;
    let interval = retrier.get("IntervalSeconds").and_then(Value::as_f64).unwrap_or(DEFAULT_INTERVAL_SECONDS);
    let backoff = retrier.get("BackoffRate").and_then(Value::as_f64).unwrap_or(DEFAULT_BACKOFF_RATE);
    let mut seconds = interval * backoff.powi(attempt.min(i32::MAX as u32) as i32);
    if let Some(max) = retrier.get("MaxDelaySeconds").and_then(Value::as_f64) {
        seconds = seconds.min(max);
    }
    if retrier.get("JitterStrategy").and_then(Value::as_str) == Some("FULL") {
        seconds *= random.clamp(0.0, 1.0);
    }
    Some((seconds * 1000.0).round().clamp(0.0, u64::MAX as f64) as u64)
}

pub fn catch<'a>(catchers: &'a [Value], error: &str) -> Option<(String, &'a Value)> {
    let catcher = catchers.iter().find(|c| error_matches(error_equals(c), error))?;
    let next = catcher.get("Next")?.as_str()?.to_string();
    Some((next, catcher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_names() {
        let cases = [
            (json!(["States.ALL"]), "MyError", true),
            (json!(["States.ALL"]), "States.Timeout", true),
            (json!(["States.ALL"]), "States.Runtime", false),
            (json!(["States.Runtime"]), "States.Runtime", false),
            (json!(["States.ALL"]), "States.DataLimitExceeded", false),
            (json!(["States.DataLimitExceeded"]), "States.DataLimitExceeded", true),
            (json!(["States.TaskFailed"]), "Lambda.ServiceException", true),
            (json!(["States.TaskFailed"]), "States.Timeout", false),
            (json!(["States.Timeout"]), "States.Timeout", true),
            (json!(["A", "B"]), "B", true),
            (json!(["A", "B"]), "C", false),
        ];
        for (names, error, expected) in cases {
            assert_eq!(error_matches(names.as_array().unwrap(), error), expected, "{names} vs {error}");
        }
    }

    fn delays(retriers: Value, errors: &[&str], random: f64) -> Vec<Option<u64>> {
        let retriers = retriers.as_array().unwrap().clone();
        let mut attempts = Vec::new();
        errors.iter().map(|e| retry_delay(&retriers, e, &mut attempts, random)).collect()
    }

    /// Retriers, the errors raised in turn, the random number, the delays expected.
    type Case = (Value, Vec<&'static str>, f64, Vec<Option<u64>>);

    #[test]
    fn computes_delays() {
        let cases: Vec<Case> = vec![
            // Defaults: 1 s, ×2, 3 attempts.
            (
                json!([{"ErrorEquals": ["States.ALL"]}]),
                vec!["E"; 4],
                0.5,
                vec![Some(1000), Some(2000), Some(4000), None],
            ),
            (
                json!([{"ErrorEquals": ["E"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}]),
                vec!["E"; 3],
                0.5,
                vec![Some(3000), Some(4500), None],
            ),
            (json!([{"ErrorEquals": ["E"], "MaxAttempts": 0}]), vec!["E"], 0.5, vec![None]),
            (json!([{"ErrorEquals": ["E"]}]), vec!["Other"], 0.5, vec![None]),
            (
                json!([{"ErrorEquals": ["E"], "IntervalSeconds": 10, "MaxDelaySeconds": 15, "MaxAttempts": 3}]),
                vec!["E"; 3],
                0.5,
                vec![Some(10000), Some(15000), Some(15000)],
            ),
            (
                json!([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "JitterStrategy": "FULL"}]),
                vec!["E"; 2],
                0.25,
                vec![Some(500), Some(1000)],
            ),
            (json!([{"ErrorEquals": ["E"], "JitterStrategy": "NONE"}]), vec!["E"], 0.25, vec![Some(1000)]),
            // Each retrier counts its own attempts; the first match is used.
            (
                json!([{"ErrorEquals": ["A"], "MaxAttempts": 1}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 5}]),
                vec!["A", "B", "A", "B", "B"],
                0.5,
                vec![Some(1000), Some(5000), None, Some(10000), None],
            ),
        ];
        for (retriers, errors, random, expected) in cases {
            assert_eq!(delays(retriers.clone(), &errors, random), expected, "{retriers}");
        }
    }

    #[test]
    fn catches() {
        let catchers = vec![
            json!({"ErrorEquals": ["A"], "Next": "HandleA"}),
            json!({"ErrorEquals": ["States.TaskFailed"], "Next": "HandleTask", "ResultPath": "$.error"}),
            json!({"ErrorEquals": ["States.ALL"], "Next": "HandleAll", "ResultPath": null}),
        ];
        let cases = [
            ("A", Some(("HandleA", 0))),
            ("B", Some(("HandleTask", 1))),
            ("States.Timeout", Some(("HandleAll", 2))),
            ("States.Runtime", None),
        ];
        for (error, expected) in cases {
            let expected = expected.map(|(next, i)| (next.to_string(), &catchers[i]));
            assert_eq!(catch(&catchers, error), expected, "{error}");
        }
    }
}
