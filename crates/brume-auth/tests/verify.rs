//! The verifier against requests signed by an independent signer (botocore; see
//! `botocore/generate.py`), the error mapping of each failure, and S3's chunk signatures
//! against the example in AWS's documentation.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brume_auth::{
    AuthFailure, AuthMode, Credential, CredentialStore, MemorySessions, PayloadHash, PayloadSigning, ServiceFamily,
    SessionCredentials, Verified, Verifier,
};
use brume_core::{AwsError, Principal};
use sha2::{Digest, Sha256};

/// 2024-05-01T12:00:00Z, when botocore signed the fixtures.
const SIGNED_AT: u64 = 1_714_564_800;

struct Fixtures(serde_json::Value);

impl Fixtures {
    fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/botocore/requests.json");
        let fixtures: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(fixtures["now"], "2024-05-01T12:00:00Z");
        Fixtures(fixtures)
    }

    fn request(&self, name: &str) -> (http::request::Parts, Vec<u8>) {
        let r = self.0["requests"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap();
        let mut builder = http::Request::builder()
            .method(r["method"].as_str().unwrap())
            .uri(r["target"].as_str().unwrap())
            .header("host", r["host"].as_str().unwrap());
        for pair in r["headers"].as_array().unwrap() {
            builder = builder.header(pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        }
        (builder.body(()).unwrap().into_parts().0, r["body"].as_str().unwrap().as_bytes().to_vec())
    }

    fn session(&self, expiration: SystemTime) -> SessionCredentials {
        let s = &self.0["session"];
        SessionCredentials {
            access_key_id: s["access_key_id"].as_str().unwrap().into(),
            secret_access_key: s["secret_access_key"].as_str().unwrap().into(),
            session_token: s["session_token"].as_str().unwrap().into(),
            expiration,
            account: "444455556666".into(),
            principal: Principal::AssumedRole { role_name: "deployer".into(), session_name: "ci".into() },
        }
    }
}

fn at(offset_seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(SIGNED_AT.checked_add_signed(offset_seconds).unwrap())
}

fn store() -> CredentialStore {
    CredentialStore::new("000000000000", Arc::new(MemorySessions::default())).unwrap()
}

fn verifier_at(store: CredentialStore, mode: AuthMode, now: SystemTime) -> Verifier {
    Verifier::new(Arc::new(store), mode, Arc::new(move || now))
}

fn verify(fixtures: &Fixtures, name: &str, verifier: &Verifier) -> Result<Verified, AuthFailure> {
    let (parts, body) = fixtures.request(name);
    verifier.verify(&parts, PayloadHash::Body(&body))
}

fn check_error(error: AwsError, status: u16, code: &str, message: &str) {
    assert_eq!((error.status, error.code.as_ref(), error.message.as_str()), (status, code, message));
}

#[test]
fn header_auth_for_a_query_service() {
    let f = Fixtures::load();
    let v = verifier_at(store(), AuthMode::Verify, at(0));
    let ok = verify(&f, "sts-get-caller-identity", &v).unwrap();
    assert_eq!((ok.account.as_str(), ok.region.as_str(), ok.service.as_str()), ("000000000000", "us-east-1", "sts"));
    assert_eq!((ok.principal.clone(), ok.access_key_id.as_str(), ok.presigned), (Principal::Root, "test", false));
    assert!(matches!(ok.payload, PayloadSigning::Buffered));
    let context = ok.request_context();
    assert_eq!(context.caller_arn(), "arn:aws:iam::000000000000:root");

    let ok = verify(&f, "sts-account-key", &v).unwrap();
    assert_eq!(ok.account, "111122223333");
}

#[test]
fn header_auth_for_json_services() {
    let f = Fixtures::load();
    let v = verifier_at(store(), AuthMode::Verify, at(300));
    assert_eq!(verify(&f, "dynamodb-list-tables", &v).unwrap().service, "dynamodb");
    // Lambda's path is signed encoded twice: `%3A` in the URL is `%253A` in the signature.
    assert_eq!(verify(&f, "lambda-encoded-path", &v).unwrap().service, "lambda");
}

#[test]
fn s3_header_auth() {
    let f = Fixtures::load();
    let v = verifier_at(store(), AuthMode::Verify, at(-300));
    let (parts, _) = f.request("s3-put-unsigned");
    let ok = v.verify(&parts, PayloadHash::NotBuffered).unwrap();
    assert!(matches!(ok.payload, PayloadSigning::Unsigned));

    let (parts, _) = f.request("s3-put-signed-payload");
    match v.verify(&parts, PayloadHash::NotBuffered).unwrap().payload {
        PayloadSigning::Declared(hash) => assert_eq!(hash, brume_core::hex(&Sha256::digest(b"hello"))),
        other => panic!("{other:?}"),
    }

    let mut missing = parts.clone();
    missing.headers.remove("x-amz-content-sha256");
    let failure = v.verify(&missing, PayloadHash::Body(b"hello")).unwrap_err();
    assert_eq!(failure, AuthFailure::MissingContentSha256);
    check_error(
        failure.to_aws_error(ServiceFamily::S3),
        400,
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    );
}

/// A client that leaves `(` and `)` bare in the URL while signing them encoded (as
/// botocore did here) is accepted through S3's variant canonical URI; the error of a bad
/// signature still shows the canonical request of the path as sent.
#[test]
fn s3_key_sent_less_encoded_than_signed() {
    let f = Fixtures::load();
    let v = verifier_at(store(), AuthMode::Verify, at(0));
    let (mut parts, _) = f.request("s3-put-unsigned");
    let sent = parts.uri.to_string().replace("%281%29", "(1)");
    parts.uri = sent.parse().unwrap();
    assert!(matches!(v.verify(&parts, PayloadHash::NotBuffered).unwrap().payload, PayloadSigning::Unsigned));

    let authorization = parts.headers["authorization"].to_str().unwrap();
    let last = if authorization.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &authorization[..authorization.len() - 1]);
    parts.headers.insert("authorization", tampered.parse().unwrap());
    let failure = v.verify(&parts, PayloadHash::NotBuffered).unwrap_err();
    let AuthFailure::SignatureMismatch(m) = &failure else { panic!("{failure:?}") };
    assert!(m.canonical_request.starts_with("PUT\n/bucket/dir/a%20b%2Bc//%C3%BCn%C3%AF%20%E2%98%85~(1).txt\n"));
}

#[test]
fn s3_presigned_get_with_an_odd_key() {
    let f = Fixtures::load();
    let ok = verify(&f, "s3-presigned-odd-key", &verifier_at(store(), AuthMode::Verify, at(3599))).unwrap();
    assert!(ok.presigned);
    assert!(matches!(ok.payload, PayloadSigning::Unsigned));

    let failure = verify(&f, "s3-presigned-odd-key", &verifier_at(store(), AuthMode::Verify, at(3601))).unwrap_err();
    assert!(matches!(failure, AuthFailure::PresignedExpired { expires_in: 3600, .. }));
    let error = failure.to_aws_error(ServiceFamily::S3);
    check_error(error.clone(), 403, "AccessDenied", "Request has expired.");
    assert_eq!(
        error.fields,
        [
            ("X-Amz-Expires".to_owned(), "3600".to_owned()),
            ("Expires".to_owned(), "2024-05-01T13:00:00Z".to_owned()),
            ("ServerTime".to_owned(), "2024-05-01T13:00:01Z".to_owned())
        ]
    );
}

#[test]
fn wrong_secret() {
    let f = Fixtures::load();
    let failure = verify(&f, "sts-wrong-secret", &verifier_at(store(), AuthMode::Verify, at(0))).unwrap_err();
    let AuthFailure::SignatureMismatch(m) = &failure else { panic!("{failure:?}") };
    assert_eq!(m.access_key_id, "test");
    assert!(m.canonical_request.starts_with(
        "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:localhost:4566\n"
    ));
    assert!(m.string_to_sign.starts_with("AWS4-HMAC-SHA256\n20240501T120000Z\n20240501/us-east-1/sts/aws4_request\n"));

    let query = failure.to_aws_error(ServiceFamily::Query);
    assert_eq!((query.status, query.code.as_ref()), (403, "SignatureDoesNotMatch"));
    assert!(query.message.starts_with("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'POST\n"));
    let s3 = failure.to_aws_error(ServiceFamily::S3);
    check_error(
        s3.clone(),
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
    let names: Vec<&str> = s3.fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AWSAccessKeyId",
            "StringToSign",
            "SignatureProvided",
            "StringToSignBytes",
            "CanonicalRequest",
            "CanonicalRequestBytes"
        ]
    );
    assert!(s3.fields[3].1.starts_with("41 57 53 34 2d"));
    let json = failure.to_aws_error(ServiceFamily::AwsJson);
    assert_eq!((json.status, json.code.as_ref()), (400, "InvalidSignatureException"));
    assert_eq!(failure.to_aws_error(ServiceFamily::RestJson).status, 403);
}

#[test]
fn unknown_access_key() {
    let f = Fixtures::load();
    let failure = verify(&f, "dynamodb-unknown-key", &verifier_at(store(), AuthMode::Verify, at(0))).unwrap_err();
    assert_eq!(failure, AuthFailure::UnknownAccessKey { access_key_id: "AKIAUNKNOWNKEY000000".into() });
    check_error(
        failure.to_aws_error(ServiceFamily::AwsJson),
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    check_error(
        failure.to_aws_error(ServiceFamily::Query),
        403,
        "InvalidClientTokenId",
        "The security token included in the request is invalid",
    );
    let s3 = failure.to_aws_error(ServiceFamily::S3);
    check_error(
        s3.clone(),
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    );
    assert_eq!(s3.fields, [("AWSAccessKeyId".to_owned(), "AKIAUNKNOWNKEY000000".to_owned())]);
}

#[test]
fn request_time_too_skewed_either_way() {
    let f = Fixtures::load();
    assert!(verify(&f, "sts-get-caller-identity", &verifier_at(store(), AuthMode::Verify, at(900))).is_ok());
    let late = verify(&f, "sts-get-caller-identity", &verifier_at(store(), AuthMode::Verify, at(901))).unwrap_err();
    check_error(
        late.to_aws_error(ServiceFamily::Query),
        403,
        "SignatureDoesNotMatch",
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z (20240501T121501Z - 15 min.)",
    );
    let early = verify(&f, "dynamodb-list-tables", &verifier_at(store(), AuthMode::Verify, at(-901))).unwrap_err();
    check_error(
        early.to_aws_error(ServiceFamily::AwsJson),
        400,
        "InvalidSignatureException",
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115959Z (20240501T114459Z + 15 min.)",
    );
    let s3 = verify(&f, "s3-put-signed-payload", &verifier_at(store(), AuthMode::Verify, at(1000))).unwrap_err();
    let error = s3.to_aws_error(ServiceFamily::S3);
    check_error(
        error.clone(),
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    );
    assert_eq!(
        error.fields,
        [
            ("RequestTime".to_owned(), "20240501T120000Z".to_owned()),
            ("ServerTime".to_owned(), "2024-05-01T12:16:40Z".to_owned()),
            ("MaxAllowedSkewMilliseconds".to_owned(), "900000".to_owned())
        ]
    );
}

#[test]
fn temporary_credentials_before_and_after_expiry() {
    let f = Fixtures::load();
    let expiration = at(600);
    let make = || {
        let s = store();
        s.insert_session(f.session(expiration)).unwrap();
        s
    };
    let ok = verify(&f, "dynamodb-session", &verifier_at(make(), AuthMode::Verify, at(599))).unwrap();
    assert_eq!(ok.account, "444455556666");
    assert_eq!(ok.principal, Principal::AssumedRole { role_name: "deployer".into(), session_name: "ci".into() });
    assert_eq!(ok.session_token.as_deref(), Some("IQoJb3JpZ2luX2VjEXAMPLETOKEN/+=="));
    assert!(verify(&f, "s3-presigned-session", &verifier_at(make(), AuthMode::Verify, at(599))).unwrap().presigned);

    let expired = verify(&f, "dynamodb-session", &verifier_at(make(), AuthMode::Verify, at(600))).unwrap_err();
    assert_eq!(expired, AuthFailure::ExpiredToken);
    check_error(
        expired.to_aws_error(ServiceFamily::AwsJson),
        400,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    );
    check_error(
        expired.to_aws_error(ServiceFamily::Query),
        403,
        "ExpiredToken",
        "The security token included in the request is expired",
    );
    check_error(expired.to_aws_error(ServiceFamily::S3), 400, "ExpiredToken", "The provided token has expired.");
    let presigned = verify(&f, "s3-presigned-session", &verifier_at(make(), AuthMode::Verify, at(601))).unwrap_err();
    assert_eq!(presigned, AuthFailure::ExpiredToken);

    // The token must come with the key, and be the one issued with it.
    let (mut parts, body) = f.request("dynamodb-session");
    parts.headers.remove("x-amz-security-token");
    let v = verifier_at(make(), AuthMode::Verify, at(0));
    assert_eq!(v.verify(&parts, PayloadHash::Body(&body)).unwrap_err(), AuthFailure::InvalidToken);
    parts.headers.insert("x-amz-security-token", "IQoJb3JpZ2luX2VjOTHER".parse().unwrap());
    assert_eq!(v.verify(&parts, PayloadHash::Body(&body)).unwrap_err(), AuthFailure::InvalidToken);
    check_error(
        AuthFailure::InvalidToken.to_aws_error(ServiceFamily::S3),
        400,
        "InvalidToken",
        "The provided token is malformed or otherwise invalid.",
    );
}

#[test]
fn issued_sessions_survive_a_restart() {
    let persistence = Arc::new(MemorySessions::default());
    let first = CredentialStore::new("000000000000", persistence.clone()).unwrap();
    let principal = Principal::Session { parent: Box::new(Principal::Root) };
    let issued = first.issue_session("000000000000", principal.clone(), at(3600)).unwrap();
    let second = CredentialStore::new("000000000000", persistence).unwrap();
    let found = second.lookup(&issued.access_key_id).unwrap();
    assert_eq!((found.principal, found.secret_access_key), (principal, issued.secret_access_key));
}

#[test]
fn open_mode_accepts_any_signature() {
    let f = Fixtures::load();
    let open = verifier_at(store(), AuthMode::Open, at(86_400));
    assert_eq!(verify(&f, "sts-wrong-secret", &open).unwrap().account, "000000000000");
    assert_eq!(verify(&f, "dynamodb-unknown-key", &open).unwrap().account, "000000000000");
    assert_eq!(verify(&f, "sts-account-key", &open).unwrap().account, "111122223333");
}

#[test]
fn missing_and_malformed_authorization() {
    let v = verifier_at(store(), AuthMode::Verify, at(0));
    let parts = http::Request::builder().uri("/").body(()).unwrap().into_parts().0;
    let missing = v.verify(&parts, PayloadHash::Body(b"")).unwrap_err();
    assert_eq!(missing, AuthFailure::MissingAuthentication);
    check_error(
        missing.to_aws_error(ServiceFamily::Query),
        403,
        "MissingAuthenticationToken",
        "Request is missing Authentication Token",
    );
    check_error(
        missing.to_aws_error(ServiceFamily::AwsJson),
        400,
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    );

    let with_auth = |value: &str| {
        let parts = http::Request::builder()
            .uri("/")
            .header("authorization", value)
            .header("x-amz-date", "20240501T120000Z")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        v.verify(&parts, PayloadHash::Body(b"")).unwrap_err()
    };
    // S3 still takes Signature Version 2; this one is wrong.
    let sigv2 = with_auth("AWS test:c2lnbmF0dXJl");
    check_error(
        sigv2.to_aws_error(ServiceFamily::S3),
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
    let no_signature =
        with_auth("AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/s3/aws4_request, SignedHeaders=host");
    check_error(
        no_signature.to_aws_error(ServiceFamily::S3),
        400,
        "AuthorizationHeaderMalformed",
        "The authorization header is malformed; missing Signature.",
    );
    check_error(
        no_signature.to_aws_error(ServiceFamily::Query),
        400,
        "IncompleteSignature",
        "Authorization header requires 'Signature' parameter.",
    );
    let bad_credential =
        with_auth("AWS4-HMAC-SHA256 Credential=test/20240501/us-east-1/s3, SignedHeaders=host, Signature=00");
    assert_eq!(bad_credential.to_aws_error(ServiceFamily::S3).code, "AuthorizationHeaderMalformed");
    let other_day = with_auth(
        "AWS4-HMAC-SHA256 Credential=test/20240502/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    );
    assert_eq!(other_day.to_aws_error(ServiceFamily::AwsJson).code, "IncompleteSignatureException");

    let presign = |query: &str| {
        let parts = http::Request::builder().uri(format!("/b/k?{query}")).body(()).unwrap().into_parts().0;
        v.verify(&parts, PayloadHash::NotBuffered).unwrap_err()
    };
    let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240501%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20240501T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    let too_long = presign(&format!("{base}&X-Amz-Expires=604801"));
    check_error(
        too_long.to_aws_error(ServiceFamily::S3),
        400,
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
    );
    let incomplete = presign("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240501T120000Z");
    assert_eq!(incomplete.to_aws_error(ServiceFamily::S3).code, "AuthorizationQueryParametersError");
}

/// The example of "Signature Calculations for the Authorization Header: Transferring
/// Payload in Multiple Chunks" in the Amazon S3 API reference: a 66560-byte object sent as
/// chunks of 65536 and 1024 bytes and a final empty chunk.
#[test]
fn chunk_signatures_match_the_s3_documentation() {
    let mut store = store();
    store.add_long_term(
        "AKIAIOSFODNN7EXAMPLE",
        Credential {
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            account: "111122223333".into(),
            principal: Principal::Root,
            session: None,
        },
    );
    let may_24_2013 = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let v = verifier_at(store, AuthMode::Verify, may_24_2013);
    let parts = http::Request::builder()
        .method("PUT")
        .uri("/examplebucket/chunkObject.txt")
        .header("host", "s3.amazonaws.com")
        .header("x-amz-date", "20130524T000000Z")
        .header("x-amz-storage-class", "REDUCED_REDUNDANCY")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        )
        .header("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", "66560")
        .header("content-length", "66824")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let verified = v.verify(&parts, PayloadHash::NotBuffered).unwrap();
    let PayloadSigning::StreamingSigned { signer: Some(signer), trailer: false } = verified.payload else {
        panic!("{:?}", verified.payload)
    };
    assert_eq!(signer.seed_signature(), "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    let sha = |data: &[u8]| -> [u8; 32] { Sha256::digest(data).into() };
    let first = signer.chunk_signature(signer.seed_signature(), &sha(&[b'a'; 65536]));
    assert_eq!(first, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
    let second = signer.chunk_signature(&first, &sha(&[b'a'; 1024]));
    assert_eq!(second, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
    let last = signer.chunk_signature(&second, &sha(b""));
    assert_eq!(last, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");
    assert!(brume_auth::signatures_match(&last, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"));
    assert!(!format!("{signer:?}").contains("signing_key"));

    // The trailer chains the same way, under its own string-to-sign prefix.
    let trailer = signer.trailer_signature(&last, &sha(b"x-amz-checksum-crc32:sOO8/Q==\n"));
    assert_eq!(trailer.len(), 64);
    assert_ne!(trailer, signer.chunk_signature(&last, &sha(b"x-amz-checksum-crc32:sOO8/Q==\n")));
}
