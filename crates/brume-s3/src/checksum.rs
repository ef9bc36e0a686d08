//! S3 object checksums: the flexible `x-amz-checksum-*` algorithms, MD5 ETags, and the
//! multipart forms of both.
//!
//! Checksums travel as base64 of the big-endian digest bytes (a CRC32 is four bytes, not
//! eight hex digits). A multipart upload completes with either a COMPOSITE checksum — the
//! algorithm run over the concatenated binary part checksums, shown as `base64-N` — or a
//! FULL_OBJECT one, the CRC of the whole object. The latter is derived here from the part
//! CRCs and lengths alone ([`combine`]), so completing an upload never re-reads its data.
//!
//! The error helpers return the exact codes and messages S3 answers with, so handlers
//! don't spell them out each time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use brume_core::AwsError;
use sha2::Digest as _;

/// A flexible-checksum algorithm, as named by `x-amz-checksum-algorithm` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// Every algorithm, in the order S3 lists them; handlers scan the request headers with it.
    pub const ALL: [Algorithm; 5] =
        [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme, Algorithm::Sha1, Algorithm::Sha256];

    /// Parses S3's spelling of the name; S3 itself accepts any case (`crc32c`, `Sha256`).
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.as_str().eq_ignore_ascii_case(name))
    }

    /// The canonical name, as echoed in `ChecksumAlgorithm` and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The request/response header carrying this checksum (lower case, as HTTP/2 wants).
    pub fn header_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The member name in the S3 model (`<ChecksumCRC32>` in XML bodies).
    pub fn member_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "ChecksumCRC32",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Sha1 => "ChecksumSHA1",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// Length in bytes of the binary digest.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    /// Whether S3 accepts this algorithm with the given multipart checksum type: CRC64NVME
    /// has no composite form and the SHAs have no full-object one (they can't be combined).
    pub fn supports(self, kind: ChecksumType) -> bool {
        match kind {
            ChecksumType::Composite => self != Algorithm::Crc64Nvme,
            ChecksumType::FullObject => self.crc().is_some(),
        }
    }

    /// The multipart checksum type S3 picks when `x-amz-checksum-type` is absent.
    pub fn default_type(self) -> ChecksumType {
        match self {
            Algorithm::Crc64Nvme => ChecksumType::FullObject,
            _ => ChecksumType::Composite,
        }
    }

    fn crc(self) -> Option<Crc> {
        match self {
            Algorithm::Crc32 => Some(Crc::CRC32),
            Algorithm::Crc32c => Some(Crc::CRC32C),
            Algorithm::Crc64Nvme => Some(Crc::CRC64NVME),
            Algorithm::Sha1 | Algorithm::Sha256 => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a multipart upload's object checksum is formed (`x-amz-checksum-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    Composite,
    FullObject,
}

impl ChecksumType {
    /// Parses the header value; S3 takes it in upper case only.
    pub fn parse(value: &str) -> Option<ChecksumType> {
        match value {
            "COMPOSITE" => Some(ChecksumType::Composite),
            "FULL_OBJECT" => Some(ChecksumType::FullObject),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::Composite => "COMPOSITE",
            ChecksumType::FullObject => "FULL_OBJECT",
        }
    }
}

/// A streaming checksum over one of the [`Algorithm`]s.
#[derive(Clone)]
pub struct Hasher {
    state: State,
}

#[derive(Clone)]
enum State {
    Crc32(crc32fast::Hasher),
    // The crc32c crate is a plain function over a running value rather than a hasher type.
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            Algorithm::Crc32c => State::Crc32c(0),
            Algorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Hasher { state }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.state {
            State::Crc32(_) => Algorithm::Crc32,
            State::Crc32c(_) => Algorithm::Crc32c,
            State::Crc64Nvme(_) => Algorithm::Crc64Nvme,
            State::Sha1(_) => Algorithm::Sha1,
            State::Sha256(_) => Algorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            State::Crc64Nvme(h) => h.write(data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    /// The binary digest, big-endian for the CRCs as S3 encodes them.
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            State::Crc64Nvme(h) => h.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => h.finalize().to_vec(),
            State::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest as it appears in headers and XML bodies.
    pub fn finish_base64(self) -> String {
        BASE64.encode(self.finish())
    }
}

/// The binary checksum of a whole buffer.
pub fn compute(algorithm: Algorithm, data: &[u8]) -> Vec<u8> {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(data);
    hasher.finish()
}

pub use brume_crypto::Md5;

/// The lower-case hex digest: a single-part ETag, without its quotes.
pub fn md5_hex(md5: Md5) -> String {
    brume_core::hex(&md5.finish())
}

/// The ETag of a completed multipart upload (without quotes): the MD5 of the concatenated
/// binary part MD5s, in hex, followed by `-` and the part count.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut md5 = Md5::new();
    for part in part_md5s {
        md5.update(part);
    }
    format!("{}-{}", md5_hex(md5), part_md5s.len())
}

/// The COMPOSITE checksum of a multipart upload, `base64-N`: the algorithm run over the
/// concatenated binary part checksums. Callers check [`Algorithm::supports`] first, since
/// S3 refuses this form for CRC64NVME.
pub fn composite<T: AsRef<[u8]>>(algorithm: Algorithm, part_checksums: &[T]) -> String {
    let mut hasher = Hasher::new(algorithm);
    for part in part_checksums {
        hasher.update(part.as_ref());
    }
    format!("{}-{}", hasher.finish_base64(), part_checksums.len())
}

/// The FULL_OBJECT checksum of a multipart upload: the CRC the whole object would have, from
/// each part's binary CRC and length in bytes, in part order. `None` for the SHAs, which
/// can't be combined, or when a part checksum isn't the algorithm's width.
pub fn combine<T: AsRef<[u8]>>(algorithm: Algorithm, parts: &[(T, u64)]) -> Option<Vec<u8>> {
    let crc = algorithm.crc()?;
    let width = algorithm.digest_len();
    let mut whole = 0u64; // the CRC of the empty string, where the object starts
    // Parts are mostly the same size, so the shift for one is usually the shift for the next.
    let mut shift: Option<(u64, u64)> = None;
    for (part, len) in parts {
        let part = part.as_ref();
        if part.len() != width {
            return None;
        }
        let value = part.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let x_8n = match shift {
            Some((cached_len, power)) if cached_len == *len => power,
            _ => crc.x_pow_8n(*len),
        };
        shift = Some((*len, x_8n));
        whole = crc.mul(whole, x_8n) ^ value;
    }
    Some(whole.to_be_bytes()[8 - width..].to_vec())
}

/// A reflected CRC polynomial, for the GF(2) arithmetic behind [`combine`].
///
/// Polynomials are held bit-reversed as the CRCs themselves are: the top bit of the width is
/// the x^0 coefficient and bit 0 the x^(width-1) one. For a CRC whose initial value equals
/// its final XOR (true of all three S3 CRCs), crc(A‖B) = crc(A)·x^(8·|B|) ^ crc(B) mod P:
/// the register preset and output inversion contribute terms that cancel.
#[derive(Clone, Copy)]
struct Crc {
    poly: u64,
    width: u32,
}

impl Crc {
    const CRC32: Crc = Crc { poly: 0xEDB8_8320, width: 32 };
    const CRC32C: Crc = Crc { poly: 0x82F6_3B78, width: 32 };
    const CRC64NVME: Crc = Crc { poly: 0x9A6C_9329_AC4B_C9B5, width: 64 };

    /// The polynomial 1 (x^0).
    fn one(self) -> u64 {
        1 << (self.width - 1)
    }

    /// a·b mod P, by shift-and-add over the bits of `a` from x^0 upwards.
    fn mul(self, a: u64, mut b: u64) -> u64 {
        let mut product = 0;
        let mut bit = self.one();
        while bit != 0 {
            if a & bit != 0 {
                product ^= b;
            }
            // b·x: a right shift in the reflected order, reduced when x^width falls out.
            b = if b & 1 != 0 { (b >> 1) ^ self.poly } else { b >> 1 };
            bit >>= 1;
        }
        product
    }

    /// x^(8n) mod P, by square-and-multiply: n is a byte count, so up to 2^64 bytes.
    fn x_pow_8n(self, mut n: u64) -> u64 {
        let mut result = self.one();
        let mut square = self.one() >> 8; // x^8
        while n != 0 {
            if n & 1 != 0 {
                result = self.mul(result, square);
            }
            square = self.mul(square, square);
            n >>= 1;
        }
        result
    }
}

/// Decodes a checksum header value, rejecting what S3 rejects: anything but padded
/// standard base64 of exactly the algorithm's digest length.
pub fn decode(algorithm: Algorithm, value_b64: &str) -> Result<Vec<u8>, AwsError> {
    match BASE64.decode(value_b64) {
        Ok(bytes) if bytes.len() == algorithm.digest_len() => Ok(bytes),
        _ => Err(invalid_header_error(algorithm)),
    }
}

/// Whether the base64 checksum the client sent matches the computed binary one; a
/// malformed value matches nothing.
pub fn verify(expected_b64: &str, computed: &[u8]) -> bool {
    BASE64.decode(expected_b64).is_ok_and(|expected| expected == computed)
}

/// Checks a client's checksum header against the computed digest, with S3's answer for a
/// malformed value or a mismatch.
pub fn check(algorithm: Algorithm, expected_b64: &str, computed: &[u8]) -> Result<(), AwsError> {
    if decode(algorithm, expected_b64)? == computed { Ok(()) } else { Err(mismatch_error(algorithm)) }
}

/// S3's answer to a malformed `x-amz-checksum-*` value.
pub fn invalid_header_error(algorithm: Algorithm) -> AwsError {
    AwsError::new(400, "InvalidRequest", format!("Value for {} header is invalid.", algorithm.header_name()))
}

/// S3's answer when the body doesn't hash to the checksum the client sent.
pub fn mismatch_error(algorithm: Algorithm) -> AwsError {
    AwsError::new(400, "BadDigest", format!("The {algorithm} you specified did not match the calculated checksum."))
}

/// Decodes a `Content-MD5` header: padded base64 of the 16-byte digest.
pub fn decode_content_md5(value_b64: &str) -> Result<[u8; 16], AwsError> {
    BASE64
        .decode(value_b64)
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
        .ok_or_else(|| AwsError::new(400, "InvalidDigest", "The Content-MD5 you specified is not valid."))
}

/// S3's answer when the body doesn't hash to the `Content-MD5` the client sent.
pub fn content_md5_mismatch_error() -> AwsError {
    AwsError::new(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHECK: &[u8] = b"123456789";

    #[test]
    fn check_values_of_the_catalog() {
        assert_eq!(compute(Algorithm::Crc32, CHECK), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(compute(Algorithm::Crc32c, CHECK), 0xE306_9283u32.to_be_bytes());
        assert_eq!(compute(Algorithm::Crc64Nvme, CHECK), 0xAE8B_1486_0A79_9888u64.to_be_bytes());
        assert_eq!(brume_core::hex(&compute(Algorithm::Sha1, CHECK)), "f7c3bc1d808e04732adf679965ccc34ca7ae3441");
        assert_eq!(
            brume_core::hex(&compute(Algorithm::Sha256, CHECK)),
            "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"
        );
    }

    #[test]
    fn base64_of_big_endian_digest_as_s3_sends_it() {
        // Values S3 (and botocore) send for the body "Hello world".
        let base64 = |alg| {
            let mut h = Hasher::new(alg);
            h.update(b"Hello ");
            h.update(b"world");
            h.finish_base64()
        };
        assert_eq!(base64(Algorithm::Crc32), "i9aeUg==");
        assert_eq!(base64(Algorithm::Sha256), "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=");
        // An empty body: the CRCs of nothing are zero, SHA-256 the well-known constant.
        assert_eq!(Hasher::new(Algorithm::Crc32c).finish_base64(), "AAAAAA==");
        assert_eq!(Hasher::new(Algorithm::Crc64Nvme).finish_base64(), "AAAAAAAAAAA=");
        assert_eq!(Hasher::new(Algorithm::Sha256).finish_base64(), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn names() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::parse(alg.as_str()), Some(alg));
            assert_eq!(Algorithm::parse(&alg.as_str().to_ascii_lowercase()), Some(alg));
            assert_eq!(alg.header_name(), format!("x-amz-checksum-{}", alg.as_str().to_ascii_lowercase()));
            assert_eq!(alg.member_name(), format!("Checksum{alg}"));
            assert_eq!(compute(alg, b"").len(), alg.digest_len());
        }
        assert_eq!(Algorithm::parse("Crc64Nvme"), Some(Algorithm::Crc64Nvme));
        assert_eq!(Algorithm::parse("CRC64"), None);
        assert_eq!(Algorithm::parse("MD5"), None);
        assert_eq!(ChecksumType::parse("FULL_OBJECT"), Some(ChecksumType::FullObject));
        assert_eq!(ChecksumType::parse(ChecksumType::Composite.as_str()), Some(ChecksumType::Composite));
        assert_eq!(ChecksumType::parse("full_object"), None);
        assert!(!Algorithm::Crc64Nvme.supports(ChecksumType::Composite));
        assert!(!Algorithm::Sha256.supports(ChecksumType::FullObject));
        assert!(Algorithm::Crc32c.supports(ChecksumType::FullObject));
        assert_eq!(Algorithm::Crc64Nvme.default_type(), ChecksumType::FullObject);
        assert_eq!(Algorithm::Sha1.default_type(), ChecksumType::Composite);
    }

    #[test]
    fn md5_etags() {
        let mut md5 = Md5::new();
        md5.update(b"Hello ");
        md5.update(b"world");
        assert_eq!(md5_hex(md5), "3e25960a79dbc69b674cd4ec67a72c62");
        assert_eq!(md5_hex(Md5::new()), "d41d8cd98f00b204e9800998ecf8427e");
        // Two parts, "a" * 5 MiB then "b" (value from Python's hashlib, S3's recipe).
        let parts = [md5_of(&vec![b'a'; 5 * 1024 * 1024]), md5_of(b"b")];
        assert_eq!(multipart_etag(&parts), "e5a8c5272b26fc10581a21089559b006-2");
    }

    #[test]
    fn composite_form() {
        let parts: Vec<Vec<u8>> = [&b"Hello "[..], b"world"].iter().map(|p| compute(Algorithm::Crc32, p)).collect();
        let concatenated: Vec<u8> = parts.concat();
        let expected = format!("{}-2", BASE64.encode(compute(Algorithm::Crc32, &concatenated)));
        assert_eq!(composite(Algorithm::Crc32, &parts), expected);
        assert_eq!(composite(Algorithm::Sha256, &[compute(Algorithm::Sha256, b"x")]).rsplit_once('-').unwrap().1, "1");
    }

    #[test]
    fn combine_edges() {
        let empty: &[(Vec<u8>, u64)] = &[];
        assert_eq!(combine(Algorithm::Crc32, empty), Some(vec![0; 4]));
        assert_eq!(combine(Algorithm::Sha256, &[(compute(Algorithm::Sha256, b"x"), 1)]), None);
        assert_eq!(combine(Algorithm::Crc32, &[(vec![0; 8], 1)]), None);
        // Empty parts leave the CRC as it was.
        let parts = [(compute(Algorithm::Crc64Nvme, b""), 0), (compute(Algorithm::Crc64Nvme, CHECK), 9)];
        assert_eq!(combine(Algorithm::Crc64Nvme, &parts), Some(compute(Algorithm::Crc64Nvme, CHECK)));
        // A length past what fits in memory exercises every bit of the exponent.
        let huge = [(compute(Algorithm::Crc32, b""), u64::MAX), (compute(Algorithm::Crc32, CHECK), 9)];
        assert_eq!(combine(Algorithm::Crc32, &huge).map(|c| c.len()), Some(4));
    }

    #[test]
    fn decoding_and_verification() {
        let crc = compute(Algorithm::Crc32, b"Hello world");
        assert_eq!(decode(Algorithm::Crc32, "i9aeUg=="), Ok(crc.clone()));
        assert!(verify("i9aeUg==", &crc));
        assert!(!verify("i9aeUw==", &crc));
        assert!(!verify("not base64!", &crc));
        assert_eq!(check(Algorithm::Crc32, "i9aeUg==", &crc), Ok(()));
        for malformed in ["!", "i9aeUg", "AAAAAAAAAAA=", "", "i9ae Ug=="] {
            let err = decode(Algorithm::Crc32, malformed).unwrap_err();
            assert_eq!((err.status, &*err.code), (400, "InvalidRequest"));
            assert_eq!(err.message, "Value for x-amz-checksum-crc32 header is invalid.");
        }
        let err = check(Algorithm::Crc32c, "AAAAAA==", &compute(Algorithm::Crc32c, b"x")).unwrap_err();
        assert_eq!((err.status, &*err.code), (400, "BadDigest"));
        assert_eq!(err.message, "The CRC32C you specified did not match the calculated checksum.");

        assert_eq!(decode_content_md5("PiWWCnnbxptnTNTsZ6csYg=="), Ok(md5_of(b"Hello world")));
        let err = decode_content_md5("PiWWCnnbxptnTNTsZ6csYg").unwrap_err();
        assert_eq!((err.status, &*err.code), (400, "InvalidDigest"));
        assert_eq!(content_md5_mismatch_error().code, "BadDigest");
    }

    fn md5_of(data: &[u8]) -> [u8; 16] {
        let mut md5 = Md5::new();
        md5.update(data);
        md5.finish()
    }

    proptest! {
        #[test]
        fn combined_part_crcs_equal_the_whole_object_crc(
            data in proptest::collection::vec(any::<u8>(), 0..4096),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            for alg in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
                let parts: Vec<(Vec<u8>, u64)> =
                    cuts.windows(2).map(|w| (compute(alg, &data[w[0]..w[1]]), (w[1] - w[0]) as u64)).collect();
                prop_assert_eq!(combine(alg, &parts), Some(compute(alg, &data)));
            }
        }

        #[test]
        fn streaming_matches_one_shot(data in proptest::collection::vec(any::<u8>(), 0..2048), cut in any::<prop::sample::Index>()) {
            let cut = cut.index(data.len() + 1);
            for alg in Algorithm::ALL {
                let mut hasher = Hasher::new(alg);
                hasher.update(&data[..cut]);
                hasher.update(&data[cut..]);
                prop_assert_eq!(hasher.finish(), compute(alg, &data));
            }
        }
    }
}
