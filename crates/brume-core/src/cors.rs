//! Cross-origin resource sharing, as a hook between the gateway (which sees browsers'
//! preflight requests and `Origin` headers) and the services whose resources carry CORS
//! rules (S3 buckets). The service decides; the gateway writes the headers.

/// What a CORS rule allows for one request: the response headers' values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsGrant {
    pub allow_origin: String,
    pub allow_methods: String,
    pub allow_headers: Option<String>,
    pub expose_headers: Option<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

/// Why no grant was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorsDenial {
    /// The resource has no CORS configuration.
    NotEnabled,
    /// No rule matches the origin, method and headers.
    NotAllowed,
}

/// A service's CORS rules for the resource a request names.
pub trait CorsPolicy: Send + Sync {
    /// The grant for a request from `origin` using `method` with `headers`, to `resource`
    /// (an S3 bucket name), if one of its rules allows it.
    fn evaluate(&self, resource: &str, origin: &str, method: &str, headers: &[String])
    -> Result<CorsGrant, CorsDenial>;
}
