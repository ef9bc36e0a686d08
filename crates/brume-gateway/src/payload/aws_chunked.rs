//! The `aws-chunked` content encoding of S3 streaming uploads, decoded incrementally.
//!
//! ```text
//! <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n   (repeated)
//! 0[;chunk-signature=<sig>]\r\n
//! <name>:<value>\r\n                                   (trailers, if any)
//! [x-amz-trailer-signature:<sig>\r\n]
//! \r\n
//! ```
//!
//! The decoder is a state machine over byte slices: the network may split a header, a
//! signature or a CRLF anywhere, so nothing assumes a frame holds a whole line. Object
//! data is handed out as slices of the input, never copied, so memory stays bounded by
//! the longest header or trailer line whatever the chunk size.

use bytes::{Buf as _, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest as _, Sha256};

use brume_auth::{ChunkSigner, signatures_match};
use brume_core::AwsError;

/// S3 refuses a chunk smaller than this unless no data chunk follows it.
const MIN_CHUNK_SIZE: u64 = 8192;
/// The longest header or trailer line accepted. A signed chunk header is under 100
/// bytes and a checksum trailer under 100; the margin is for unusual trailer names.
const MAX_LINE: usize = 4096;
/// The most trailer bytes accepted, so a client cannot grow the trailer map unboundedly.
const MAX_TRAILERS: usize = 16 * 1024;

const SIGNATURE_PARAMETER: &str = ";chunk-signature=";
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// What the chunk headers carry, from `x-amz-content-sha256`.
pub(crate) enum Framing {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: every chunk header carries a
    /// signature, checked when `signer` is present (absent in `--auth open`).
    Signed { signer: Option<ChunkSigner>, trailer: bool },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: bare sizes, trailers unsigned.
    Unsigned,
}

enum State {
    /// Reading a chunk header line.
    Header,
    /// Inside a chunk's data, with this many bytes still to come.
    Data(u64),
    /// After a chunk's data, with this many bytes of its closing CRLF seen.
    DataEnd(usize),
    /// Reading trailer lines after the final, empty chunk.
    Trailer,
    /// The closing empty line has been read: nothing may follow.
    Done,
}

pub(crate) struct Decoder {
    /// Whether chunk headers carry `;chunk-signature=`.
    signed: bool,
    signer: Option<ChunkSigner>,
    /// Whether the trailers end with `x-amz-trailer-signature` (signed framing only).
    signed_trailer: bool,
    state: State,
    /// The part of a header or trailer line received so far.
    line: Vec<u8>,
    /// The signature each chunk chains from: the seed, then the last verified chunk's.
    previous_signature: String,
    /// The signature the current chunk's header declared.
    chunk_signature: String,
    chunk_hash: Sha256,
    /// Chunk headers read so far, the final one included (S3 numbers chunks from 1).
    chunks: u64,
    /// The size of the previous data chunk.
    previous_size: Option<u64>,
    trailers: HeaderMap,
    /// The SHA-256 of the trailers as signed: `name:value\n` for each.
    trailer_hash: Sha256,
    trailer_signature: Option<String>,
    trailer_bytes: usize,
}

impl Decoder {
    pub(crate) fn new(framing: Framing) -> Self {
        let (signed, signer, signed_trailer) = match framing {
            Framing::Signed { signer, trailer } => (true, signer, trailer),
            Framing::Unsigned => (false, None, false),
        };
        let previous_signature = signer.as_ref().map(|s| s.seed_signature().to_owned()).unwrap_or_default();
        Decoder {
            signed,
            signer,
            signed_trailer,
            state: State::Header,
            line: Vec::new(),
            previous_signature,
            chunk_signature: String::new(),
            chunk_hash: Sha256::new(),
            chunks: 0,
            previous_size: None,
            trailers: HeaderMap::new(),
            trailer_hash: Sha256::new(),
            trailer_signature: None,
            trailer_bytes: 0,
        }
    }

    /// Consumes `input` up to the next piece of object data and returns it (a slice of
    /// `input`), or `None` once `input` is used up without yielding data. Call again
    /// while `input` is not empty.
    pub(crate) fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, AwsError> {
        while !input.is_empty() {
            match self.state {
                State::Data(remaining) => {
                    let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    let data = input.split_to(n);
                    if self.signer.is_some() {
                        self.chunk_hash.update(&data);
                    }
                    let left = remaining - n as u64;
                    self.state = if left == 0 { State::DataEnd(0) } else { State::Data(left) };
                    return Ok(Some(data));
                }
                State::DataEnd(seen) => {
                    if input[0] != b"\r\n"[seen] {
                        return Err(incomplete_body());
                    }
                    input.advance(1);
                    self.state = if seen == 0 {
                        State::DataEnd(1)
                    } else {
                        self.end_data_chunk()?;
                        State::Header
                    };
                }
                State::Header => {
                    if let Some(line) = self.take_line(input)? {
                        self.header(&line)?;
                    }
                }
                State::Trailer => {
                    if let Some(line) = self.take_line(input)? {
                        self.trailer(&line)?;
                    }
                }
                State::Done => return Err(incomplete_body()),
            }
        }
        Ok(None)
    }

    /// The trailers, once the body has ended; an error if it ended mid-encoding.
    pub(crate) fn finish(&mut self) -> Result<HeaderMap, AwsError> {
        match self.state {
            State::Done => Ok(std::mem::take(&mut self.trailers)),
            _ => Err(incomplete_body()),
        }
    }

    /// The next complete line without its CRLF, or `None` if `input` ran out first (the
    /// part seen is kept for the next call).
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, AwsError> {
        let end = input.iter().position(|&b| b == b'\n');
        let take = end.map_or(input.len(), |i| i + 1);
        if self.line.len() + take > MAX_LINE {
            return Err(incomplete_body());
        }
        self.line.extend_from_slice(&input[..take]);
        input.advance(take);
        if end.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        if !line.ends_with(b"\r\n") {
            return Err(incomplete_body());
        }
        line.truncate(line.len() - 2);
        Ok(Some(line))
    }

    fn header(&mut self, line: &[u8]) -> Result<(), AwsError> {
        let line = std::str::from_utf8(line).map_err(|_| incomplete_body())?;
        let size = if self.signed {
            let (size, signature) = line.split_once(SIGNATURE_PARAMETER).ok_or_else(incomplete_body)?;
            if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(incomplete_body());
            }
            self.chunk_signature = signature.to_owned();
            size
        } else {
            line
        };
        let size = parse_size(size)?;
        self.chunks += 1;
        if size == 0 {
            let signature = std::mem::take(&mut self.chunk_signature);
            self.verify_chunk(&Sha256::digest(b"").into(), &signature)?;
            self.state = State::Trailer;
            return Ok(());
        }
        // A chunk with data proves the previous one was not the last.
        if let Some(previous) = self.previous_size
            && previous < MIN_CHUNK_SIZE
        {
            return Err(AwsError::new(
                403,
                "InvalidChunkSizeError",
                "Only the last chunk is allowed to have a size less than 8192 bytes",
            )
            .with_field("Chunk", self.chunks.to_string())
            .with_field("BadChunkSize", previous.to_string()));
        }
        self.previous_size = Some(size);
        self.state = State::Data(size);
        Ok(())
    }

    fn end_data_chunk(&mut self) -> Result<(), AwsError> {
        let digest = std::mem::take(&mut self.chunk_hash).finalize().into();
        let signature = std::mem::take(&mut self.chunk_signature);
        self.verify_chunk(&digest, &signature)
    }

    fn verify_chunk(&mut self, chunk_sha256: &[u8; 32], provided: &str) -> Result<(), AwsError> {
        let Some(signer) = &self.signer else { return Ok(()) };
        let expected = signer.chunk_signature(&self.previous_signature, chunk_sha256);
        if !signatures_match(&expected, provided) {
            return Err(signature_mismatch());
        }
        self.previous_signature = expected;
        Ok(())
    }

    fn trailer(&mut self, line: &[u8]) -> Result<(), AwsError> {
        if line.is_empty() {
            return self.end_trailers();
        }
        // Nothing is signed after the trailer signature, so nothing may follow it.
        if self.trailer_signature.is_some() {
            return Err(incomplete_body());
        }
        self.trailer_bytes += line.len();
        if self.trailer_bytes > MAX_TRAILERS {
            return Err(malformed_trailer());
        }
        let line = std::str::from_utf8(line).map_err(|_| malformed_trailer())?;
        let (name, value) = line.split_once(':').ok_or_else(malformed_trailer)?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim_matches([' ', '\t']);
        if self.signed {
            if !self.signed_trailer {
                // `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` ends right after the final chunk.
                return Err(incomplete_body());
            }
            if name == TRAILER_SIGNATURE {
                self.trailer_signature = Some(value.to_owned());
                return Ok(());
            }
            self.trailer_hash.update(format!("{name}:{value}\n"));
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| malformed_trailer())?;
        let value = HeaderValue::from_str(value).map_err(|_| malformed_trailer())?;
        self.trailers.append(name, value);
        Ok(())
    }

    fn end_trailers(&mut self) -> Result<(), AwsError> {
        if self.signed_trailer {
            let provided = self.trailer_signature.take().ok_or_else(incomplete_body)?;
            if let Some(signer) = &self.signer {
                let hash = std::mem::take(&mut self.trailer_hash).finalize().into();
                let expected = signer.trailer_signature(&self.previous_signature, &hash);
                if !signatures_match(&expected, &provided) {
                    return Err(signature_mismatch());
                }
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

/// A chunk size: 1 to 16 hex digits.
fn parse_size(hex: &str) -> Result<u64, AwsError> {
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(incomplete_body());
    }
    u64::from_str_radix(hex, 16).map_err(|_| incomplete_body())
}

/// What S3 answers for any aws-chunked body it cannot parse, a truncated one included.
pub(crate) fn incomplete_body() -> AwsError {
    AwsError::new(400, "IncompleteBody", "The request body terminated unexpectedly")
}

fn signature_mismatch() -> AwsError {
    AwsError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    )
}

fn malformed_trailer() -> AwsError {
    AwsError::new(
        400,
        "MalformedTrailerError",
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use brume_auth::sigv4;

    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    /// The signer of the example in "Signature Calculations for the Authorization Header:
    /// Transferring Payload in Multiple Chunks" of the Amazon S3 API reference.
    fn doc_signer() -> ChunkSigner {
        let key = sigv4::signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
        ChunkSigner::new(key, "20130524T000000Z".into(), "20130524/us-east-1/s3/aws4_request".into(), SEED.into())
    }

    /// The example's body: 65536 and 1024 bytes of `a`, then the final chunk.
    fn doc_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(
            b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
        );
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(
            b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
        );
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(
            b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
        );
        body
    }

    fn signed(signer: Option<ChunkSigner>, trailer: bool) -> Decoder {
        Decoder::new(Framing::Signed { signer, trailer })
    }

    /// Feeds `body` in pieces of `piece` bytes and returns the object data and trailers.
    fn decode(mut decoder: Decoder, body: &[u8], piece: usize) -> Result<(Vec<u8>, HeaderMap), AwsError> {
        let mut data = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            let mut input = Bytes::copy_from_slice(chunk);
            while let Some(d) = decoder.decode(&mut input)? {
                assert!(!d.is_empty());
                data.extend_from_slice(&d);
            }
            assert!(input.is_empty());
        }
        let trailers = decoder.finish()?;
        Ok((data, trailers))
    }

    fn check_error(result: Result<(Vec<u8>, HeaderMap), AwsError>, status: u16, code: &str) -> AwsError {
        let err = result.expect_err("decoding should fail");
        assert_eq!((err.status, err.code.as_ref()), (status, code), "{err}");
        err
    }

    #[test]
    fn the_s3_documentation_example_decodes_in_any_pieces() {
        let body = doc_body();
        assert_eq!(body.len(), 66824, "the example's Content-Length");
        for piece in [1, 7, 8192, body.len()] {
            let (data, trailers) = decode(signed(Some(doc_signer()), false), &body, piece).unwrap();
            assert_eq!(data.len(), 66560);
            assert!(data.iter().all(|&b| b == b'a'));
            assert!(trailers.is_empty());
        }
    }

    #[test]
    fn a_tampered_chunk_fails_its_signature() {
        let mut body = doc_body();
        body[100] = b'b';
        check_error(decode(signed(Some(doc_signer()), false), &body, 7), 403, "SignatureDoesNotMatch");
        // The final chunk is signed too: altering its signature breaks the chain.
        let mut body = doc_body();
        let last = body.len() - 5;
        body[last] = if body[last] == b'0' { b'1' } else { b'0' };
        check_error(decode(signed(Some(doc_signer()), false), &body, 1), 403, "SignatureDoesNotMatch");
        // Chunks cannot be dropped: the second chunk's signature chains from the first.
        let body = doc_body();
        let second = body.windows(4).position(|w| w == b"400;").unwrap();
        check_error(decode(signed(Some(doc_signer()), false), &body[second..], 1000), 403, "SignatureDoesNotMatch");
    }

    #[test]
    fn open_mode_decodes_without_checking_signatures() {
        let mut body = doc_body();
        body[100] = b'b';
        let (data, _) = decode(signed(None, false), &body, 7).unwrap();
        assert_eq!(data.len(), 66560);
        assert_eq!(data.iter().filter(|&&b| b == b'b').count(), 1);
    }

    /// A signed body with a trailer, signed by `signer` itself.
    fn signed_trailer_body(signer: &ChunkSigner, data: &[u8], trailer_line: &str) -> Vec<u8> {
        let sha = |d: &[u8]| -> [u8; 32] { Sha256::digest(d).into() };
        let first = signer.chunk_signature(signer.seed_signature(), &sha(data));
        let last = signer.chunk_signature(&first, &sha(b""));
        let trailer = signer.trailer_signature(&last, &sha(format!("{trailer_line}\n").as_bytes()));
        let mut body = format!("{:x};chunk-signature={first}\r\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(
            format!("\r\n0;chunk-signature={last}\r\n{trailer_line}\r\nx-amz-trailer-signature:{trailer}\r\n\r\n")
                .as_bytes(),
        );
        body
    }

    #[test]
    fn signed_trailers_are_verified_and_returned() {
        let signer = doc_signer();
        let data = vec![7u8; 10_000];
        let body = signed_trailer_body(&signer, &data, "x-amz-checksum-crc32:sOO8/Q==");
        for piece in [1, 7, body.len()] {
            let (decoded, trailers) = decode(signed(Some(signer.clone()), true), &body, piece).unwrap();
            assert_eq!(decoded, data);
            assert_eq!(trailers["x-amz-checksum-crc32"], "sOO8/Q==");
            assert_eq!(trailers.len(), 1, "the trailer signature is not a trailer");
        }
        let tampered = String::from_utf8_lossy(&body).replace("sOO8/Q==", "AAAAAA==");
        let result = decode(signed(Some(signer.clone()), true), tampered.as_bytes(), 64);
        check_error(result, 403, "SignatureDoesNotMatch");
        let unsigned =
            String::from_utf8_lossy(&body).split("x-amz-trailer-signature").next().unwrap().to_owned() + "\r\n";
        check_error(decode(signed(Some(signer.clone()), true), unsigned.as_bytes(), 64), 400, "IncompleteBody");
        // Without a declared trailer, trailer lines are not part of the encoding.
        check_error(decode(signed(None, false), &body, 64), 400, "IncompleteBody");
    }

    fn unsigned_body(chunks: &[&[u8]], trailers: &str) -> Vec<u8> {
        let mut body = Vec::new();
        for chunk in chunks {
            body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("0\r\n{trailers}\r\n").as_bytes());
        body
    }

    #[test]
    fn unsigned_trailer_framing_decodes_with_its_checksum() {
        let first = vec![1u8; 8192];
        let body = unsigned_body(&[&first, b"hello"], "x-amz-checksum-crc32:NhCmhg==\r\n");
        for piece in [1, 2, 7, body.len()] {
            let (data, trailers) = decode(Decoder::new(Framing::Unsigned), &body, piece).unwrap();
            assert_eq!(data.len(), 8197);
            assert_eq!(&data[8192..], b"hello");
            assert_eq!(trailers["x-amz-checksum-crc32"], "NhCmhg==");
        }
        // What botocore 1.43 (AwsChunkedWrapper) sends for `hello` with a CRC32 checksum.
        let (data, trailers) =
            decode(Decoder::new(Framing::Unsigned), b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n", 3)
                .unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(trailers.len(), 1);
        let (data, trailers) = decode(Decoder::new(Framing::Unsigned), b"0\r\n\r\n", 1).unwrap();
        assert!(data.is_empty() && trailers.is_empty());
    }

    #[test]
    fn every_truncation_is_an_incomplete_body() {
        let body = unsigned_body(&[b"hello"], "x-amz-checksum-crc32:NhCmhg==\r\n");
        for end in 0..body.len() {
            check_error(decode(Decoder::new(Framing::Unsigned), &body[..end], 3), 400, "IncompleteBody");
        }
        let body = doc_body();
        for end in [0, 50, 90, 65626, 66000, body.len() - 2, body.len() - 1] {
            check_error(decode(signed(Some(doc_signer()), false), &body[..end], 4096), 400, "IncompleteBody");
        }
    }

    #[test]
    fn malformed_framing_is_an_incomplete_body() {
        let unsigned = |body: &[u8]| decode(Decoder::new(Framing::Unsigned), body, 5);
        for body in [
            &b"g\r\nhello\r\n0\r\n\r\n"[..],
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXY0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\nextra",
            b"\r\n",
            b"12345678901234567\r\n",
            b"5;chunk-signature=ab\r\nhello\r\n0\r\n\r\n",
        ] {
            check_error(unsigned(body), 400, "IncompleteBody");
        }
        let long_line = vec![b'0'; MAX_LINE + 1];
        check_error(unsigned(&long_line), 400, "IncompleteBody");
        // Signed framing needs a well-formed signature on every chunk.
        for body in [&b"5\r\nhello\r\n0\r\n\r\n"[..], b"5;chunk-signature=abc\r\nhello\r\n"] {
            check_error(decode(signed(None, false), body, 5), 400, "IncompleteBody");
        }
        check_error(unsigned(b"0\r\nno-colon\r\n\r\n"), 400, "MalformedTrailerError");
        check_error(unsigned(b"0\r\nbad name:x\r\n\r\n"), 400, "MalformedTrailerError");
    }

    #[test]
    fn only_the_last_data_chunk_may_be_small() {
        // S3's answer to "hello" sent in chunks of 3 and 2 bytes.
        let err = check_error(
            decode(Decoder::new(Framing::Unsigned), &unsigned_body(&[b"hel", b"lo"], ""), 4),
            403,
            "InvalidChunkSizeError",
        );
        assert_eq!(err.message, "Only the last chunk is allowed to have a size less than 8192 bytes");
        assert_eq!(err.fields, [("Chunk".to_owned(), "2".to_owned()), ("BadChunkSize".to_owned(), "3".to_owned())]);
        let big = vec![0u8; 8192];
        let (data, _) = decode(Decoder::new(Framing::Unsigned), &unsigned_body(&[&big, &big, b"x"], ""), 1000).unwrap();
        assert_eq!(data.len(), 16385);
        let result = decode(Decoder::new(Framing::Unsigned), &unsigned_body(&[&big, b"x", &big], ""), 1000);
        let err = check_error(result, 403, "InvalidChunkSizeError");
        assert_eq!(err.fields[0].1, "3");
    }
}
