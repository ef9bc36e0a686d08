//! Verification of a request's SigV4 signature, from the `Authorization` header or from
//! presigned query parameters, against the [`CredentialStore`].

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use brume_core::{Principal, RequestContext};
use http::HeaderName;
use http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::chunk::{ChunkSigner, signatures_match};
use crate::credentials::{CredentialStore, is_account_id};
use crate::failure::{AuthFailure, MAX_PRESIGN_EXPIRES, MAX_SKEW_SECONDS, Malformed, SignatureMismatch, amz_date};
use crate::sigv2;
use crate::sigv4::{self, ALGORITHM, PathRules, X_AMZ_CONTENT_SHA256, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN};

/// The source of the current time, injected so tests are deterministic.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Whether signatures are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Every signature, key, token and time is checked, as AWS does.
    Verify,
    /// Any access key is accepted unchecked: its owner when the store knows it, else the
    /// root of the account the key names (12 digits) or of the default account.
    Open,
}

/// How the verifier may learn the payload hash when `x-amz-content-sha256` is absent.
#[derive(Clone, Copy, Debug)]
pub enum PayloadHash<'a> {
    /// The body, buffered by the caller; hashed only if the signature needs it.
    Body(&'a [u8]),
    /// The body is streamed and not available (S3 uploads).
    NotBuffered,
}

/// What the signature says about the body, for the caller to enforce while reading it.
#[derive(Clone, Debug)]
pub enum PayloadSigning {
    /// The buffered body was hashed and is covered by the signature.
    Buffered,
    /// `x-amz-content-sha256` declared this hex SHA-256: the body must match it (S3 answers
    /// `XAmzContentSHA256Mismatch` otherwise).
    Declared(String),
    /// `UNSIGNED-PAYLOAD`: the body is not covered.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: every chunk carries a signature.
    /// `signer` is `None` in [`AuthMode::Open`], where chunk signatures go unchecked.
    StreamingSigned { signer: Option<ChunkSigner>, trailer: bool },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: chunks unsigned, checksum in a trailer.
    StreamingUnsignedTrailer,
}

/// A request whose signature checked out: who sent it and where.
#[derive(Clone, Debug)]
pub struct Verified {
    pub account: String,
    pub principal: Principal,
    pub access_key_id: String,
    /// The region of the credential scope.
    pub region: String,
    /// The signing name of the credential scope (`s3`, `dynamodb`, `sts`…).
    pub service: String,
    pub session_token: Option<String>,
    /// Signed with query parameters (a presigned URL) rather than a header.
    pub presigned: bool,
    pub payload: PayloadSigning,
}

impl Verified {
    /// A request context for this caller, with a new request id.
    pub fn request_context(&self) -> RequestContext {
        let mut context = RequestContext::new(self.account.clone(), self.region.clone());
        context.principal = self.principal.clone();
        context.access_key_id = Some(self.access_key_id.clone());
        context
    }
}

/// Checks SigV4 signatures against a credential store.
pub struct Verifier {
    store: Arc<CredentialStore>,
    mode: AuthMode,
    clock: Arc<dyn Clock>,
    /// Signing keys derived lately, newest last: a key serves a whole day of a client's
    /// requests to one service and region, and deriving it is four HMACs. Few are in use at
    /// once, so a short list compared field by field beats hashing a scope on every request.
    keys: Mutex<Vec<RememberedKey>>,
}

struct RememberedKey {
    secret: String,
    date: String,
    region: String,
    service: String,
    key: [u8; 32],
}

/// Derived signing keys remembered; the oldest is forgotten beyond this many.
const REMEMBERED_KEYS: usize = 64;

/// The signature parameters, from the header or the query string.
struct SignatureInput {
    presigned: bool,
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: String,
    signature: String,
    /// The timestamp as signed (`20150830T123600Z`) and parsed.
    timestamp: String,
    signed_at: SystemTime,
    /// The raw date the client sent, for S3's `RequestTime`.
    request_time: String,
    expires: Option<i64>,
    session_token: Option<String>,
}

impl Verifier {
    pub fn new(store: Arc<CredentialStore>, mode: AuthMode, clock: Arc<dyn Clock>) -> Self {
        Verifier { store, mode, clock, keys: Mutex::default() }
    }

    pub fn store(&self) -> &Arc<CredentialStore> {
        &self.store
    }

    fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let known = keys
            .iter()
            .rev()
            .find(|k| k.secret == secret && k.date == date && k.region == region && k.service == service);
        if let Some(known) = known {
            return known.key;
        }
        if keys.len() >= REMEMBERED_KEYS {
            keys.remove(0);
        }
        let key = sigv4::signing_key(secret, date, region, service);
        let (secret, date, region, service) =
            (secret.to_owned(), date.to_owned(), region.to_owned(), service.to_owned());
        keys.push(RememberedKey { secret, date, region, service, key });
        key
    }

    /// Verifies the signature of a request. `parts.uri` must be the request target as
    /// received, with its original percent-encoding.
    pub fn verify(&self, parts: &Parts, payload: PayloadHash<'_>) -> Result<Verified, AuthFailure> {
        if let Some(v2) = sigv2::detect(parts) {
            return self.verify_v2(parts, v2);
        }
        let input = signature_input(parts)?;
        let s3 = input.service == "s3";
        let (payload_hash, hashed_body) = payload_hash(parts, &input, s3, payload)?;
        let credential = self.store.lookup(&input.access_key_id);

        if self.mode == AuthMode::Open {
            let (account, principal) = match credential {
                Some(c) => (c.account, c.principal),
                None if is_account_id(&input.access_key_id) => (input.access_key_id.clone(), Principal::Root),
                None => (self.store.default_account().to_owned(), Principal::Root),
            };
            let payload = classify(&payload_hash, hashed_body, None);
            return Ok(verified(input, account, principal, payload));
        }

        let credential =
            credential.ok_or_else(|| AuthFailure::UnknownAccessKey { access_key_id: input.access_key_id.clone() })?;
        let now = self.clock.now();
        match (&credential.session, &input.session_token) {
            (Some((token, expiration)), Some(provided)) if signatures_match(token, provided) => {
                if now >= *expiration {
                    return Err(AuthFailure::ExpiredToken);
                }
            }
            (None, None) => {}
            _ => return Err(AuthFailure::InvalidToken),
        }
        check_time(&input, s3, now)?;

        let key = self.signing_key(&credential.secret_access_key, &input.date, &input.region, &input.service);
        let scope = [&input.date, "/", &input.region, "/", &input.service, "/aws4_request"].concat();
        let signed: Vec<&str> = input.signed_headers.split(';').collect();
        let headers = sigv4::canonical_headers(&parts.headers, parts.uri.authority().map(|a| a.as_str()), &signed);
        let raw_path = parts.uri.path();
        let raw_query = parts.uri.query().unwrap_or_default();

        // Clients disagree on a few details (bare `+` in queries, S3 keys encoded with a
        // different reserved set, a presigned token left unsigned); the AWS form comes first,
        // the variants are tried only on a mismatch, and the error reports the first.
        // S3's variant URI is built only once the first has failed: most requests match it.
        let uri = sigv4::canonical_uri(raw_path, PathRules::for_service(&input.service));
        let variant = || s3.then(|| sigv4::reencoded_uri(raw_path)).filter(|reencoded| *reencoded != uri);
        let uris =
            std::iter::once(Cow::Borrowed(uri.as_str())).chain(std::iter::once_with(variant).flatten().map(Cow::Owned));
        let mut queries = Vec::new();
        for plus_as_space in [false, true] {
            if plus_as_space && !raw_query.contains('+') {
                continue;
            }
            if input.presigned {
                queries.push(sigv4::canonical_query(raw_query, &["X-Amz-Signature"], plus_as_space));
                // Some signers add the session token after signing (the suite's
                // post-sts-header-after; IoT's presigned WebSocket URLs).
                if input.session_token.is_some() {
                    queries.push(sigv4::canonical_query(
                        raw_query,
                        &["X-Amz-Signature", "X-Amz-Security-Token"],
                        plus_as_space,
                    ));
                }
            } else {
                queries.push(sigv4::canonical_query(raw_query, &[], plus_as_space));
            }
        }
        let mut first_mismatch = None;
        for uri in uris {
            for query in &queries {
                let canonical_request = sigv4::canonical_request(
                    parts.method.as_str(),
                    &uri,
                    query,
                    &headers,
                    &input.signed_headers,
                    &payload_hash,
                );
                let string_to_sign = sigv4::string_to_sign(&input.timestamp, &scope, &canonical_request);
                let expected = sigv4::signature(&key, &string_to_sign);
                if signatures_match(&expected, &input.signature) {
                    let signer = ChunkSigner::new(key, input.timestamp.clone(), scope, expected);
                    let payload = classify(&payload_hash, hashed_body, Some(signer));
                    return Ok(verified(input, credential.account, credential.principal, payload));
                }
                first_mismatch.get_or_insert((canonical_request, string_to_sign));
            }
        }
        let (canonical_request, string_to_sign) = first_mismatch.unwrap_or_default();
        Err(AuthFailure::SignatureMismatch(Box::new(SignatureMismatch {
            access_key_id: input.access_key_id,
            canonical_request,
            string_to_sign,
            signature_provided: input.signature,
        })))
    }
}

impl Verifier {
    /// S3's Signature Version 2 (presigned URLs from boto3 and the CLI in us-east-1).
    fn verify_v2(&self, parts: &Parts, v2: sigv2::V2) -> Result<Verified, AuthFailure> {
        let credential = self.store.lookup(&v2.access_key_id);
        let presigned = v2.expires.is_some();
        let done = |account: String, principal: Principal, v2: sigv2::V2| Verified {
            account,
            principal,
            access_key_id: v2.access_key_id,
            region: String::new(),
            service: "s3".into(),
            session_token: v2.session_token,
            presigned,
            payload: PayloadSigning::Unsigned,
        };
        if self.mode == AuthMode::Open {
            let (account, principal) = match credential {
                Some(c) => (c.account, c.principal),
                None if is_account_id(&v2.access_key_id) => (v2.access_key_id.clone(), Principal::Root),
                None => (self.store.default_account().to_owned(), Principal::Root),
            };
            return Ok(done(account, principal, v2));
        }
        let credential =
            credential.ok_or_else(|| AuthFailure::UnknownAccessKey { access_key_id: v2.access_key_id.clone() })?;
        let now = self.clock.now();
        match (&credential.session, &v2.session_token) {
            (Some((token, expiration)), Some(provided)) if signatures_match(token, provided) => {
                if now >= *expiration {
                    return Err(AuthFailure::ExpiredToken);
                }
            }
            (None, None) => {}
            _ => return Err(AuthFailure::InvalidToken),
        }
        match &v2.expires {
            Some(expires) => {
                let secs =
                    expires.parse::<u64>().map_err(|_| malformed(Malformed::BadExpires(expires.clone()), true))?;
                let expired_at = UNIX_EPOCH + Duration::from_secs(secs);
                if now > expired_at {
                    return Err(AuthFailure::PresignedExpired { expires_in: 0, expired_at, server_time: now });
                }
            }
            None => {
                let date = parts
                    .headers
                    .get(X_AMZ_DATE)
                    .or_else(|| parts.headers.get(http::header::DATE))
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let signed_at = parse_http_date(date)
                    .or_else(|| parse_amz_date(date))
                    .ok_or_else(|| malformed(Malformed::MissingDate, false))?;
                let skew = Duration::from_secs(MAX_SKEW_SECONDS as u64);
                if signed_at > now + skew || signed_at + skew < now {
                    return Err(AuthFailure::RequestTimeTooSkewed {
                        request_time: date.to_string(),
                        signed_at,
                        server_time: now,
                    });
                }
            }
        }
        let string_to_sign = sigv2::string_to_sign(parts, &v2, s3_virtual_host_bucket(parts));
        let expected = sigv2::sign(&credential.secret_access_key, &string_to_sign);
        if !signatures_match(&expected, &v2.signature) {
            return Err(AuthFailure::SignatureMismatch(Box::new(SignatureMismatch {
                access_key_id: v2.access_key_id,
                canonical_request: String::new(),
                string_to_sign,
                signature_provided: v2.signature,
            })));
        }
        Ok(done(credential.account, credential.principal, v2))
    }
}

impl Verifier {
    /// The signature of an S3 browser form upload (POST Object): the form's `policy`
    /// field signed with Signature Version 4 (`x-amz-credential`, `x-amz-date`,
    /// `x-amz-signature`) or 2 (`AWSAccessKeyId`, `signature`). `field` looks up a form
    /// field by name, case-insensitively. The policy's conditions are the caller's to check.
    pub fn verify_form(&self, field: &dyn Fn(&str) -> Option<String>) -> Result<Verified, AuthFailure> {
        let policy = field("policy").ok_or(AuthFailure::MissingAuthentication)?;
        let (access_key_id, expected_for, provided) = if let Some(credential) = field("x-amz-credential") {
            let (akid, date, region, service) = parse_credential(&credential, true)?;
            let algorithm = field("x-amz-algorithm").unwrap_or_default();
            if algorithm != ALGORITHM {
                return Err(malformed(Malformed::UnsupportedAlgorithm(algorithm), true));
            }
            let signature = field("x-amz-signature").ok_or(malformed(Malformed::MissingQueryParameters, true))?;
            let sign =
                move |secret: &str| sigv4::signature(&sigv4::signing_key(secret, &date, &region, &service), &policy);
            (akid, Box::new(sign) as Box<dyn Fn(&str) -> String>, signature)
        } else {
            let akid = field("awsaccesskeyid").ok_or(AuthFailure::MissingAuthentication)?;
            let signature = field("signature").ok_or(AuthFailure::MissingAuthentication)?;
            let sign = move |secret: &str| sigv2::sign(secret, &policy);
            (akid, Box::new(sign) as Box<dyn Fn(&str) -> String>, signature)
        };
        let session_token = field("x-amz-security-token");
        let done = |account: String, principal: Principal| Verified {
            account,
            principal,
            access_key_id: access_key_id.clone(),
            region: String::new(),
            service: "s3".into(),
            session_token: session_token.clone(),
            presigned: true,
            payload: PayloadSigning::Unsigned,
        };
        let credential = self.store.lookup(&access_key_id);
        if self.mode == AuthMode::Open {
            return Ok(match credential {
                Some(c) => done(c.account, c.principal),
                None if is_account_id(&access_key_id) => done(access_key_id.clone(), Principal::Root),
                None => done(self.store.default_account().to_owned(), Principal::Root),
            });
        }
        let credential =
            credential.ok_or_else(|| AuthFailure::UnknownAccessKey { access_key_id: access_key_id.clone() })?;
        match (&credential.session, &session_token) {
            (Some((token, expiration)), Some(provided)) if signatures_match(token, provided) => {
                if self.clock.now() >= *expiration {
                    return Err(AuthFailure::ExpiredToken);
                }
            }
            (None, None) => {}
            _ => return Err(AuthFailure::InvalidToken),
        }
        let expected = expected_for(&credential.secret_access_key);
        if !signatures_match(&expected, &provided) {
            return Err(AuthFailure::SignatureMismatch(Box::new(SignatureMismatch {
                access_key_id: access_key_id.clone(),
                canonical_request: String::new(),
                string_to_sign: field("policy").unwrap_or_default(),
                signature_provided: provided,
            })));
        }
        Ok(done(credential.account, credential.principal))
    }
}

/// The bucket of a virtual-host-style S3 request (`BUCKET.s3.localhost`,
/// `BUCKET.s3.REGION.localhost`): signed resources and routes name it as if the request
/// were path-style.
pub fn s3_virtual_host_bucket(parts: &Parts) -> Option<&str> {
    let host = parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).or_else(|| parts.uri.host())?;
    let host =
        host.rsplit_once(':').map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    let (bucket, rest) = host.strip_suffix(".localhost")?.split_once(".s3")?;
    (rest.is_empty() || rest.starts_with('.')).then_some(bucket).filter(|b| !b.is_empty())
}

fn verified(input: SignatureInput, account: String, principal: Principal, payload: PayloadSigning) -> Verified {
    Verified {
        account,
        principal,
        access_key_id: input.access_key_id,
        region: input.region,
        service: input.service,
        session_token: input.session_token,
        presigned: input.presigned,
        payload,
    }
}

/// S3 honours `X-Amz-Expires` (up to seven days). Every other service, STS's presigned
/// `GetCallerIdentity` included, accepts a signature only within 15 minutes of its date,
/// whatever `X-Amz-Expires` says.
fn check_time(input: &SignatureInput, s3: bool, now: SystemTime) -> Result<(), AuthFailure> {
    let skew = Duration::from_secs(MAX_SKEW_SECONDS as u64);
    let too_skewed = || AuthFailure::RequestTimeTooSkewed {
        request_time: input.request_time.clone(),
        signed_at: input.signed_at,
        server_time: now,
    };
    if input.signed_at > now + skew {
        return Err(too_skewed());
    }
    match input.expires {
        Some(expires) if s3 => {
            let expired_at = input.signed_at + Duration::from_secs(expires.unsigned_abs());
            if now > expired_at {
                return Err(AuthFailure::PresignedExpired { expires_in: expires, expired_at, server_time: now });
            }
        }
        _ => {
            if input.signed_at + skew < now {
                return Err(too_skewed());
            }
        }
    }
    Ok(())
}

/// The payload hash the signature covers, and whether it was computed from the body.
fn payload_hash(
    parts: &Parts,
    input: &SignatureInput,
    s3: bool,
    payload: PayloadHash<'_>,
) -> Result<(String, bool), AuthFailure> {
    if let Some(value) = parts.headers.get(X_AMZ_CONTENT_SHA256) {
        let value = lossy_text(value).into_owned();
        if s3 && !is_s3_content_sha256(&value) {
            return Err(AuthFailure::InvalidContentSha256(value));
        }
        return Ok((value, false));
    }
    if s3 && input.presigned {
        return Ok((UNSIGNED.to_owned(), false));
    }
    match payload {
        // S3 requires the header on every header-signed request, buffered or not.
        _ if s3 => Err(AuthFailure::MissingContentSha256),
        PayloadHash::Body(body) => Ok((sigv4::sha256_hex(body), true)),
        PayloadHash::NotBuffered => Err(AuthFailure::MissingContentSha256),
    }
}

const UNSIGNED: &str = "UNSIGNED-PAYLOAD";
const STREAMING: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

fn is_s3_content_sha256(value: &str) -> bool {
    matches!(value, UNSIGNED | STREAMING | STREAMING_TRAILER | STREAMING_UNSIGNED_TRAILER)
        || (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn classify(payload_hash: &str, hashed_body: bool, signer: Option<ChunkSigner>) -> PayloadSigning {
    match payload_hash {
        _ if hashed_body => PayloadSigning::Buffered,
        UNSIGNED => PayloadSigning::Unsigned,
        STREAMING => PayloadSigning::StreamingSigned { signer, trailer: false },
        STREAMING_TRAILER => PayloadSigning::StreamingSigned { signer, trailer: true },
        STREAMING_UNSIGNED_TRAILER => PayloadSigning::StreamingUnsignedTrailer,
        declared => PayloadSigning::Declared(declared.to_owned()),
    }
}

fn signature_input(parts: &Parts) -> Result<SignatureInput, AuthFailure> {
    let query = parts.uri.query().unwrap_or_default();
    let query_params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| p.starts_with("X-Amz-"))
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (name.to_owned(), percent_decode_str(value).decode_utf8_lossy().into_owned())
        })
        .collect();
    let param = |name: &str| query_params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let header = parts.headers.get(http::header::AUTHORIZATION);
    match (header, param("X-Amz-Algorithm")) {
        (Some(_), Some(_)) => Err(malformed(Malformed::ConflictingMechanisms, false)),
        (None, None) => Err(AuthFailure::MissingAuthentication),
        (Some(value), None) => header_input(parts, &lossy_text(value)),
        (None, Some(algorithm)) => {
            let presigned_malformed = |kind| malformed(kind, true);
            if algorithm != ALGORITHM {
                return Err(presigned_malformed(Malformed::UnsupportedAlgorithm(algorithm.to_owned())));
            }
            let (Some(credential), Some(date), Some(expires), Some(signed_headers), Some(signature)) = (
                param("X-Amz-Credential"),
                param("X-Amz-Date"),
                param("X-Amz-Expires"),
                param("X-Amz-SignedHeaders"),
                param("X-Amz-Signature"),
            ) else {
                return Err(presigned_malformed(Malformed::MissingQueryParameters));
            };
            let signed_at =
                parse_amz_date(date).ok_or_else(|| presigned_malformed(Malformed::BadDate(date.to_owned())))?;
            let expires_in = match expires.parse::<i64>() {
                Ok(n) if n < 0 => {
                    return Err(presigned_malformed(Malformed::BadExpires(expires.to_owned())));
                }
                Ok(n) if n > MAX_PRESIGN_EXPIRES => {
                    return Err(presigned_malformed(Malformed::ExpiresTooLarge));
                }
                Ok(n) => n,
                Err(_) => {
                    return Err(presigned_malformed(Malformed::BadExpires(expires.to_owned())));
                }
            };
            let (access_key_id, cdate, region, service) = parse_credential(credential, true)?;
            check_credential_date(&cdate, date, true)?;
            Ok(SignatureInput {
                presigned: true,
                access_key_id,
                date: cdate,
                region,
                service,
                signed_headers: signed_headers.to_owned(),
                signature: signature.to_owned(),
                timestamp: date.to_owned(),
                signed_at,
                request_time: date.to_owned(),
                expires: Some(expires_in),
                session_token: param("X-Amz-Security-Token").map(str::to_owned),
            })
        }
    }
}

/// A header's text, invalid UTF-8 replaced. `from_utf8` first: its ASCII fast path is
/// several times quicker than `from_utf8_lossy`'s scan on the valid text of every request.
fn lossy_text(value: &http::HeaderValue) -> Cow<'_, str> {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(value.as_bytes()),
    }
}

fn header_input(parts: &Parts, authorization: &str) -> Result<SignatureInput, AuthFailure> {
    let header_malformed = |kind| malformed(kind, false);
    let (algorithm, rest) = authorization.trim().split_once(' ').unwrap_or((authorization.trim(), ""));
    if algorithm != ALGORITHM {
        return Err(header_malformed(Malformed::UnsupportedAlgorithm(algorithm.to_owned())));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for component in rest.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let Some((name, value)) = component.split_once('=') else {
            return Err(header_malformed(Malformed::BadComponent(component.to_owned())));
        };
        match name.trim() {
            "Credential" => credential = Some(value.trim()),
            "SignedHeaders" => signed_headers = Some(value.trim()),
            "Signature" => signature = Some(value.trim()),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| header_malformed(Malformed::MissingComponent("Credential")))?;
    let signed_headers =
        signed_headers.ok_or_else(|| header_malformed(Malformed::MissingComponent("SignedHeaders")))?;
    let signature = signature.ok_or_else(|| header_malformed(Malformed::MissingComponent("Signature")))?;
    let (access_key_id, cdate, region, service) = parse_credential(credential, false)?;

    let header_str = |name: HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (timestamp, signed_at, request_time) = if let Some(amz) = header_str(X_AMZ_DATE) {
        let at = parse_amz_date(amz).ok_or_else(|| header_malformed(Malformed::MissingDate))?;
        (amz.to_owned(), at, amz.to_owned())
    } else if let Some(date) = header_str(http::header::DATE) {
        let at = parse_http_date(date).ok_or_else(|| header_malformed(Malformed::MissingDate))?;
        (amz_date(at), at, date.to_owned())
    } else {
        return Err(header_malformed(Malformed::MissingDate));
    };
    check_credential_date(&cdate, &timestamp, false)?;
    Ok(SignatureInput {
        presigned: false,
        access_key_id,
        date: cdate,
        region,
        service,
        signed_headers: signed_headers.to_owned(),
        signature: signature.to_owned(),
        timestamp,
        signed_at,
        request_time,
        expires: None,
        session_token: header_str(X_AMZ_SECURITY_TOKEN).map(str::to_owned),
    })
}

fn malformed(kind: Malformed, presigned: bool) -> AuthFailure {
    AuthFailure::Malformed { kind, presigned }
}

/// `AKID/YYYYMMDD/REGION/SERVICE/aws4_request` into its parts.
fn parse_credential(credential: &str, presigned: bool) -> Result<(String, String, String, String), AuthFailure> {
    let mut parts = credential.split('/');
    let parts: [_; 6] = std::array::from_fn(|_| parts.next());
    match parts {
        [Some(akid), Some(date), Some(region), Some(service), Some("aws4_request"), None]
            if !akid.is_empty()
                && date.len() == 8
                && date.bytes().all(|b| b.is_ascii_digit())
                && !region.is_empty()
                && !service.is_empty() =>
        {
            Ok((akid.to_string(), date.to_string(), region.to_string(), service.to_string()))
        }
        _ => Err(malformed(Malformed::BadCredential(credential.to_owned()), presigned)),
    }
}

fn check_credential_date(credential_date: &str, timestamp: &str, presigned: bool) -> Result<(), AuthFailure> {
    if timestamp.get(..8) == Some(credential_date) {
        Ok(())
    } else {
        Err(malformed(
            Malformed::CredentialDateMismatch {
                credential_date: credential_date.to_owned(),
                request_date: timestamp.get(..8).unwrap_or(timestamp).to_owned(),
            },
            presigned,
        ))
    }
}

/// `20150830T123600Z`. Read by hand: every signed request carries one, and the `time`
/// crate's format-driven parser cost more than the rest of the header's parsing.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u16, |n, &d| d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0')))
    };
    // Two digits are at most 99: the cast loses nothing.
    let two = |at: usize| number(at..at + 2).map(|n| n as u8);
    let date = time::Date::from_calendar_date(i32::from(number(0..4)?), time::Month::try_from(two(4)?).ok()?, two(6)?);
    let at = date.ok()?.with_hms(two(9)?, two(11)?, two(13)?).ok()?;
    Some(at.assume_utc().into())
}

/// `Sun, 30 Aug 2015 12:36:00 GMT` (RFC 7231's preferred form, which every SDK sends).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s, &format).ok().map(|t| t.assume_utc().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(t));
        assert_eq!(amz_date(t), "20150830T123600Z");
        assert!(parse_amz_date("2015-08-30T12:36:00Z").is_none());
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(UNIX_EPOCH + Duration::from_secs(1_709_251_199)));
        assert_eq!(parse_amz_date("00000101T000000Z").map(amz_date).as_deref(), Some("00000101T000000Z"));
        for bad in [
            "20230229T000000Z",
            "20151330T123600Z",
            "20150800T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "2015083OT123600Z",
            "+2015083T123600Z",
            "20150830T123600z",
            "20150830 123600Z",
            "20150830T123600",
            "20150830T1236000Z",
            "",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn credentials_parse() {
        assert_eq!(
            parse_credential("AKID/20150830/us-east-1/iam/aws4_request", false).unwrap(),
            ("AKID".into(), "20150830".into(), "us-east-1".into(), "iam".into())
        );
        for bad in [
            "AKID/20150830/us-east-1/iam",
            "AKID/2015083/us-east-1/iam/aws4_request",
            "/20150830/r/s/aws4_request",
            "A/20150830/r/s/aws5_request",
            "A/20150830/r/s/aws4_request/",
            "A/20150830/r//aws4_request",
        ] {
            assert!(matches!(
                parse_credential(bad, true),
                Err(AuthFailure::Malformed { kind: Malformed::BadCredential(_), presigned: true })
            ));
        }
    }
}
