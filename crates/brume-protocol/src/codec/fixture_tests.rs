//! The REST and CBOR codecs against the real client: requests serialized by botocore
//! (`tests/fixtures/capture.py`) must decode to the parameters the client was given, and
//! responses written here must parse back, in botocore, to the output they encode
//! (`tests/fixtures/parse_check.py` reads `responses.json`, which this module writes).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use brume_core::{AwsError, Fault};

use super::{Request, decode, detect_protocol, encode, encode_error, resolve};
use crate::model::{Protocol, model};

/// Members clients add on their own (checksums, lengths, S3's `encoding-type=url`), which the
/// parameters of a case do not list.
const CLIENT_ADDED: &[&str] = &["ChecksumAlgorithm", "ChecksumCRC32", "ChecksumMode", "ContentLength", "EncodingType"];

/// Equality of canonical values where a number is its value (`3` is `3.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn check_requests(fixture: &str, protocol: Protocol) {
    let fixture: Value = serde_json::from_str(fixture).unwrap();
    for case in fixture["cases"].as_array().unwrap() {
        let op_name = case["operation"].as_str().unwrap();
        let m = model(case["service"].as_str().unwrap()).unwrap();
        let method = Method::from_bytes(case["method"].as_str().unwrap().as_bytes()).unwrap();
        let url = case["url"].as_str().unwrap();
        let uri: Uri = url.strip_prefix("http://localhost:4566").unwrap().parse().unwrap();
        let mut headers = HeaderMap::new();
        for (k, v) in case["headers"].as_object().unwrap() {
            let value = HeaderValue::from_str(v.as_str().unwrap()).unwrap();
            headers.insert(HeaderName::try_from(k.as_str()).unwrap(), value);
        }
        let body = bytes::Bytes::from(BASE64.decode(case["body_base64"].as_str().unwrap()).unwrap());
        let req = Request { method: &method, uri: &uri, headers: &headers, body: &body };
        assert_eq!(detect_protocol(m, &req), protocol, "{op_name}");
        let op = resolve(m, protocol, &req).unwrap_or_else(|e| panic!("{op_name}: {e}"));
        // CloudFront's operations are keyed by name but named with their version
        // (`ListDistributions2020_05_31`): the key is what services declare.
        assert!(std::ptr::eq(op, m.operation(op_name).unwrap()), "{url} resolved to {}", op.name);
        let decoded = decode(m, protocol, op, &req).unwrap_or_else(|e| panic!("{op_name}: {e}"));
        let decoded = decoded.into_tree();
        let decoded = decoded.as_object().unwrap();
        let params = case["params"].as_object().unwrap();
        for (k, v) in params {
            assert!(decoded.get(k).is_some_and(|d| same(d, v)), "{op_name}.{k}: {:?} != {v}", decoded.get(k));
        }
        for k in decoded.keys().filter(|k| !params.contains_key(*k)) {
            assert!(CLIENT_ADDED.contains(&k.as_str()), "{op_name}: unexpected member {k} = {}", decoded[k]);
        }
    }
}

#[test]
fn rest_json_requests_from_botocore_decode_to_their_parameters() {
    check_requests(include_str!("../../tests/fixtures/requests_rest_json.json"), Protocol::RestJson1);
}

#[test]
fn rest_xml_requests_from_botocore_decode_to_their_parameters() {
    check_requests(include_str!("../../tests/fixtures/requests_rest_xml.json"), Protocol::RestXml);
}

#[test]
fn cbor_requests_from_botocore_decode_to_their_parameters() {
    check_requests(include_str!("../../tests/fixtures/requests_cbor.json"), Protocol::RpcV2Cbor);
}

/// The outputs and errors `responses.json` holds, each with what botocore must parse.
fn sample_responses() -> Vec<Value> {
    let t = 1_706_702_400.5;
    let outputs = [
        (
            "lambda",
            "GetFunction",
            json!({
                "Configuration": {"FunctionName": "f", "Runtime": "python3.12", "MemorySize": 128, "LastModified": "2024-01-31T12:00:00.000+0000",
                    "Environment": {"Variables": {"A": "1"}}},
                "Code": {"RepositoryType": "S3", "Location": "http://x"},
                "Tags": {"k": "v"}
            }),
        ),
        (
            "lambda",
            "Invoke",
            json!({"StatusCode": 200, "ExecutedVersion": "$LATEST", "LogResult": "bG9n", "Payload": BASE64.encode(b"{\"ok\":true}")}),
        ),
        ("lambda", "DeleteFunction", json!({"StatusCode": 204})),
        ("scheduler", "GetSchedule", json!({"Name": "n", "CreationDate": t, "FlexibleTimeWindow": {"Mode": "OFF"}})),
        (
            "s3",
            "ListBuckets",
            json!({
                "Buckets": [{"Name": "a", "CreationDate": t}, {"Name": "b & c", "CreationDate": t}],
                "Owner": {"ID": "o", "DisplayName": "me"}
            }),
        ),
        (
            "s3",
            "ListObjectsV2",
            json!({
                "Name": "b", "Prefix": "p/", "KeyCount": 2, "MaxKeys": 1000, "IsTruncated": false,
                "Contents": [{"Key": "p/a", "Size": 3, "LastModified": t, "ETag": "\"e\"", "StorageClass": "STANDARD"}, {"Key": "p/b", "Size": 0, "LastModified": t}],
                "CommonPrefixes": [{"Prefix": "p/d/"}]
            }),
        ),
        ("s3", "GetBucketLocation", json!({"LocationConstraint": "eu-west-1"})),
        ("s3", "GetBucketVersioning", json!({"Status": "Enabled"})),
        (
            "s3",
            "GetBucketAcl",
            json!({
                "Owner": {"ID": "o"},
                "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": "o"}, "Permission": "FULL_CONTROL"}]
            }),
        ),
        (
            "s3",
            "DeleteObjects",
            json!({"Deleted": [{"Key": "a"}], "Errors": [{"Key": "b", "Code": "AccessDenied", "Message": "no"}]}),
        ),
        ("s3", "CreateMultipartUpload", json!({"Bucket": "b", "Key": "k", "UploadId": "u"})),
        (
            "s3",
            "GetObject",
            json!({
                "Body": BASE64.encode(b"hello"), "ContentLength": 5, "ContentType": "text/plain", "ETag": "\"e\"",
                "LastModified": 1_706_702_400.0, "Metadata": {"owner": "alice"}, "ContentRange": "bytes 0-4/10"
            }),
        ),
        ("s3", "CopyObject", json!({"CopyObjectResult": {"ETag": "\"e\"", "LastModified": t}, "VersionId": "v"})),
        ("s3", "PutObject", json!({"ETag": "\"e\"", "VersionId": "v"})),
        (
            "cloudfront",
            "GetDistribution",
            json!({"Distribution": {"Id": "D1", "ARN": "arn", "Status": "Deployed", "LastModifiedTime": t,
            "InProgressInvalidationBatches": 0, "DomainName": "d.cloudfront.net"}, "ETag": "E1"}),
        ),
        (
            "cloudwatch",
            "GetMetricData",
            json!({
                "MetricDataResults": [{"Id": "m1", "Label": "Latency", "Timestamps": [t, 1_706_702_460.0], "Values": [1.5, 2.0], "StatusCode": "Complete"}],
                "Messages": []
            }),
        ),
        (
            "cloudwatch",
            "ListMetrics",
            json!({"Metrics": [{"Namespace": "N", "MetricName": "M", "Dimensions": [{"Name": "d", "Value": "v"}]}]}),
        ),
        ("cloudwatch", "PutMetricData", json!({})),
    ];
    let errors = [
        ("lambda", AwsError::new(404, "ResourceNotFoundException", "Function not found: f")),
        ("lambda", AwsError::new(500, "ServiceException", "boom")),
        ("scheduler", AwsError::new(409, "ConflictException", "exists")),
        ("s3", AwsError::new(404, "NoSuchKey", "The specified key does not exist.").with_field("Key", "a/b")),
        ("cloudfront", AwsError::new(404, "NoSuchDistribution", "The specified distribution does not exist.")),
        ("cloudwatch", AwsError::new(404, "ResourceNotFound", "no alarm").with_fault(Fault::Sender)),
    ];
    let mut cases = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for (service, op_name, output) in outputs {
        let m = model(service).unwrap();
        let protocol = m.default_protocol();
        let op = m.operation(op_name).unwrap();
        let resp = encode(m, protocol, op, &output, &[], None, "req-1").unwrap();
        cases.push(response_case(&rt, service, op_name, json!({"output": output}), resp));
    }
    for (service, err) in errors {
        let m = model(service).unwrap();
        let resp = encode_error(Some(m), m.default_protocol(), &err, "req-1", &Method::GET);
        let expected = json!({"code": err.code, "message": err.message, "status": err.status});
        cases.push(response_case(&rt, service, "", json!({"error": expected}), resp));
    }
    cases
}

fn response_case(
    rt: &tokio::runtime::Runtime,
    service: &str,
    operation: &str,
    expected: Value,
    resp: http::Response<super::ResponseBody>,
) -> Value {
    let (parts, body) = resp.into_parts();
    let body = rt.block_on(body.collect()).unwrap().to_bytes();
    let headers: serde_json::Map<String, Value> =
        parts.headers.iter().map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap()))).collect();
    let mut case = json!({
        "service": service,
        "operation": operation,
        "status": parts.status.as_u16(),
        "headers": headers,
        "body_base64": BASE64.encode(&body),
    });
    if let Ok(text) = std::str::from_utf8(&body) {
        case["body_text"] = json!(text);
    }
    case.as_object_mut().unwrap().extend(expected.as_object().unwrap().clone());
    case
}

/// `responses.json` is what the codecs write now; `BRUME_UPDATE_FIXTURES=1` rewrites it,
/// after which `parse_check.py` must pass again.
#[test]
fn responses_match_the_checked_fixture() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/responses.json");
    let actual = serde_json::to_string_pretty(&json!({"cases": sample_responses()})).unwrap() + "\n";
    if std::env::var_os("BRUME_UPDATE_FIXTURES").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(path).unwrap();
    assert!(expected == actual, "responses.json is stale: rerun with BRUME_UPDATE_FIXTURES=1 and parse_check.py");
}

#[test]
fn s3_documents_have_the_namespace_and_root_aws_writes() {
    let cases = sample_responses();
    let text = |op: &str| {
        let case = cases.iter().find(|c| c["operation"] == op).unwrap();
        case["body_text"].as_str().unwrap().to_string()
    };
    let list = text("ListBuckets");
    assert!(list.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Buckets><Bucket><Name>a</Name><CreationDate>2024-01-31T12:00:00.500Z</CreationDate>"
    ), "{list}");
    assert!(text("GetBucketLocation").ends_with(
        "<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">eu-west-1</LocationConstraint>"
    ));
    assert!(text("CopyObject").contains("<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><ETag>"));
    assert_eq!(text("GetObject"), "hello");
    assert_eq!(text("PutObject"), "");
    let err = cases.iter().find(|c| c["service"] == "s3" && c["operation"] == "").unwrap();
    assert_eq!(
        err["body_text"],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>a/b</Key><RequestId>req-1</RequestId><HostId>req-1</HostId></Error>"
    );
    assert_eq!(err["headers"]["x-amz-request-id"], "req-1");
}
