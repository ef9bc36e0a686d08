//! Who owns an access key: the built-in keys, the `--credentials` file, and the temporary
//! credentials STS issues (kept through a [`SessionPersistence`] so they outlive a restart).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use brume_core::Principal;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The secret of the built-in keys (`test`, and any 12-digit access key id).
pub const TEST_SECRET: &str = "test";

/// The error a [`SessionPersistence`] reports; the storage layer's own error, boxed.
pub type PersistenceError = Box<dyn std::error::Error + Send + Sync>;

/// Where temporary credentials survive a restart. The binary implements it over the storage
/// layer; [`MemorySessions`] serves tests and `--ephemeral`.
pub trait SessionPersistence: Send + Sync {
    fn load_all(&self) -> Result<Vec<SessionCredentials>, PersistenceError>;
    fn save(&self, session: &SessionCredentials) -> Result<(), PersistenceError>;
    fn remove(&self, access_key_id: &str) -> Result<(), PersistenceError>;
}

/// Temporary credentials issued by `AssumeRole` or `GetSessionToken`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    #[serde(with = "unix_seconds")]
    pub expiration: SystemTime,
    pub account: String,
    #[serde(with = "principal_repr")]
    pub principal: Principal,
}

impl fmt::Debug for SessionCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .field("account", &self.account)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// What an access key id resolves to.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub secret_access_key: String,
    pub account: String,
    pub principal: Principal,
    /// The session token and expiry of temporary credentials; `None` for long-term keys.
    pub session: Option<(String, SystemTime)>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("account", &self.account)
            .field("principal", &self.principal)
            .field("session_expiration", &self.session.as_ref().map(|(_, e)| e))
            .finish_non_exhaustive()
    }
}

/// A failure reading the `--credentials` file.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsFileError {
    #[error("cannot read credentials file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: String, line: usize, message: String },
}

/// Resolves access key ids to their secret, account and principal.
pub struct CredentialStore {
    default_account: String,
    long_term: HashMap<String, Credential>,
    sessions: RwLock<HashMap<String, SessionCredentials>>,
    persistence: Arc<dyn SessionPersistence>,
}

impl CredentialStore {
    /// A store with the built-in keys, loading the temporary credentials `persistence` kept.
    pub fn new(
        default_account: impl Into<String>,
        persistence: Arc<dyn SessionPersistence>,
    ) -> Result<Self, PersistenceError> {
        let sessions = persistence.load_all()?.into_iter().map(|s| (s.access_key_id.clone(), s)).collect();
        Ok(CredentialStore {
            default_account: default_account.into(),
            long_term: HashMap::new(),
            sessions: RwLock::new(sessions),
            persistence,
        })
    }

    pub fn default_account(&self) -> &str {
        &self.default_account
    }

    /// Adds a long-term key (an IAM user's, or one from the credentials file).
    pub fn add_long_term(&mut self, access_key_id: impl Into<String>, credential: Credential) {
        self.long_term.insert(access_key_id.into(), credential);
    }

    /// Adds the keys of a credentials file. The format, one key per line:
    ///
    /// ```text
    /// # access-key-id  secret-access-key  account  [user-name]
    /// AKIAALICE000000001  alicesecret  111111111111  alice
    /// AKIAROOT0000000001  rootsecret   222222222222
    /// ```
    ///
    /// Fields are separated by spaces or tabs; `#` starts a comment; blank lines are skipped.
    /// Without a user name the key belongs to the account's root user.
    pub fn load_credentials_file(&mut self, path: &Path) -> Result<usize, CredentialsFileError> {
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| CredentialsFileError::Io { path: shown.clone(), source })?;
        let entries = parse_credentials(&text).map_err(|(line, message)| CredentialsFileError::Invalid {
            path: shown,
            line,
            message,
        })?;
        let count = entries.len();
        for (key, credential) in entries {
            self.add_long_term(key, credential);
        }
        Ok(count)
    }

    /// Issues temporary credentials for `principal` in `account`, valid until `expiration`,
    /// and persists them before returning.
    pub fn issue_session(
        &self,
        account: &str,
        principal: Principal,
        expiration: SystemTime,
    ) -> Result<SessionCredentials, PersistenceError> {
        let mut rng = rand::rng();
        const KEY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let access_key_id: String = "ASIA"
            .chars()
            .chain((0..16).map(|_| char::from(KEY_CHARS[rng.random_range(0..KEY_CHARS.len())])))
            .collect();
        let secret_access_key: String =
            (0..40).map(|_| char::from(SECRET_CHARS[rng.random_range(0..SECRET_CHARS.len())])).collect();
        let mut token_bytes = [0u8; 96];
        rng.fill(&mut token_bytes[..]);
        let session = SessionCredentials {
            access_key_id,
            secret_access_key,
            // AWS session tokens are opaque base64; the prefix mimics theirs so tools that
            // sniff tokens are not surprised.
            session_token: format!("IQoJb3JpZ2luX2Vj{}", base64::engine::general_purpose::STANDARD.encode(token_bytes)),
            expiration,
            account: account.to_owned(),
            principal,
        };
        self.insert_session(session.clone())?;
        Ok(session)
    }

    /// Registers temporary credentials made elsewhere (persisted first).
    pub fn insert_session(&self, session: SessionCredentials) -> Result<(), PersistenceError> {
        self.persistence.save(&session)?;
        self.sessions_write().insert(session.access_key_id.clone(), session);
        Ok(())
    }

    /// Forgets the temporary credentials that expired before `cutoff`. Expired ones kept
    /// until then still answer `ExpiredToken` rather than an unknown key.
    pub fn remove_expired(&self, cutoff: SystemTime) -> Result<usize, PersistenceError> {
        let expired: Vec<String> =
            self.sessions_read().values().filter(|s| s.expiration < cutoff).map(|s| s.access_key_id.clone()).collect();
        for key in &expired {
            self.persistence.remove(key)?;
            self.sessions_write().remove(key);
        }
        Ok(expired.len())
    }

    /// The credential of an access key id: temporary ones, then configured ones, then the
    /// built-in `test` key and 12-digit keys.
    pub fn lookup(&self, access_key_id: &str) -> Option<Credential> {
        if let Some(s) = self.sessions_read().get(access_key_id) {
            return Some(Credential {
                secret_access_key: s.secret_access_key.clone(),
                account: s.account.clone(),
                principal: s.principal.clone(),
                session: Some((s.session_token.clone(), s.expiration)),
            });
        }
        if let Some(c) = self.long_term.get(access_key_id) {
            return Some(c.clone());
        }
        let account = if access_key_id == "test" {
            self.default_account.clone()
        } else if is_account_id(access_key_id) {
            access_key_id.to_owned()
        } else {
            return None;
        };
        Some(Credential {
            secret_access_key: TEST_SECRET.to_owned(),
            account,
            principal: Principal::Root,
            session: None,
        })
    }

    fn sessions_read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, SessionCredentials>> {
        // A panic while holding the lock cannot leave the map half-updated (inserts and
        // removals are single calls), so a poisoned lock is still safe to use.
        self.sessions.read().unwrap_or_else(|e| e.into_inner())
    }

    fn sessions_write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, SessionCredentials>> {
        self.sessions.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Twelve ASCII digits: an AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_credentials(text: &str) -> Result<Vec<(String, Credential)>, (usize, String)> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.split('#').next().unwrap_or_default();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let fail = |message: String| Err((line_no, message));
        if !(3..=4).contains(&fields.len()) {
            return fail(format!("expected `ACCESS_KEY_ID SECRET ACCOUNT [USER]`, found {} fields", fields.len()));
        }
        let (key, secret, account) = (fields[0], fields[1], fields[2]);
        if !(3..=128).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return fail(format!("access key id {key:?} must be 3 to 128 letters or digits"));
        }
        if key == "test" || is_account_id(key) {
            return fail(format!("access key id {key:?} is built in (test, or 12 digits) and cannot be redefined"));
        }
        if let Some(first) = seen.insert(key.to_owned(), line_no) {
            return fail(format!("access key id {key:?} is already defined on line {first}"));
        }
        if !is_account_id(account) {
            return fail(format!("account {account:?} must be 12 digits"));
        }
        let principal = match fields.get(3) {
            None => Principal::Root,
            Some(name) if is_user_name(name) => Principal::User { name: (*name).to_owned() },
            Some(name) => {
                return fail(format!("user name {name:?} must be 1 to 64 of A-Z a-z 0-9 + = , . @ _ -"));
            }
        };
        entries.push((
            key.to_owned(),
            Credential { secret_access_key: secret.to_owned(), account: account.to_owned(), principal, session: None },
        ));
    }
    Ok(entries)
}

fn is_user_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Temporary credentials kept in memory only.
#[derive(Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<String, SessionCredentials>>,
}

impl SessionPersistence for MemorySessions {
    fn load_all(&self) -> Result<Vec<SessionCredentials>, PersistenceError> {
        Ok(self.lock().values().cloned().collect())
    }

    fn save(&self, session: &SessionCredentials) -> Result<(), PersistenceError> {
        self.lock().insert(session.access_key_id.clone(), session.clone());
        Ok(())
    }

    fn remove(&self, access_key_id: &str) -> Result<(), PersistenceError> {
        self.lock().remove(access_key_id);
        Ok(())
    }
}

impl MemorySessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionCredentials>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

mod unix_seconds {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        Ok(UNIX_EPOCH + Duration::from_secs(u64::deserialize(d)?))
    }
}

/// `brume_core::Principal` carries no serde, so sessions persist it through this mirror.
mod principal_repr {
    use super::*;
    use serde::{Deserializer, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Repr {
        Root,
        User { name: String },
        AssumedRole { role_name: String, session_name: String },
        Session { parent: Box<Repr> },
        FederatedUser { name: String },
        Anonymous,
    }

    fn to_repr(p: &Principal) -> Repr {
        match p {
            Principal::Root => Repr::Root,
            Principal::User { name } => Repr::User { name: name.clone() },
            Principal::AssumedRole { role_name, session_name } => {
                Repr::AssumedRole { role_name: role_name.clone(), session_name: session_name.clone() }
            }
            Principal::Session { parent } => Repr::Session { parent: Box::new(to_repr(parent)) },
            Principal::FederatedUser { name } => Repr::FederatedUser { name: name.clone() },
            Principal::Anonymous => Repr::Anonymous,
        }
    }

    fn from_repr(r: Repr) -> Principal {
        match r {
            Repr::Root => Principal::Root,
            Repr::User { name } => Principal::User { name },
            Repr::AssumedRole { role_name, session_name } => Principal::AssumedRole { role_name, session_name },
            Repr::Session { parent } => Principal::Session { parent: Box::new(from_repr(*parent)) },
            Repr::FederatedUser { name } => Principal::FederatedUser { name },
            Repr::Anonymous => Principal::Anonymous,
        }
    }

    pub fn serialize<S: Serializer>(p: &Principal, s: S) -> Result<S::Ok, S::Error> {
        to_repr(p).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Principal, D::Error> {
        Repr::deserialize(d).map(from_repr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> CredentialStore {
        CredentialStore::new("000000000000", Arc::new(MemorySessions::default())).unwrap()
    }

    #[test]
    fn built_in_keys() {
        let s = store();
        let test = s.lookup("test").unwrap();
        assert_eq!(
            (test.account.as_str(), test.principal, test.secret_access_key.as_str()),
            ("000000000000", Principal::Root, "test")
        );
        assert_eq!(s.lookup("123456789012").unwrap().account, "123456789012");
        assert!(s.lookup("AKIAUNKNOWN").is_none());
        assert!(s.lookup("12345678901").is_none());
    }

    #[test]
    fn credentials_file_parses_and_validates() {
        let entries = parse_credentials(
            "# comment\n\nAKIAALICE1 s3cret 111111111111 alice # trailing\nAKIAROOT1\tr 222222222222\n",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].1.principal, Principal::User { name: "alice".into() });
        assert_eq!(entries[1].1.principal, Principal::Root);
        for (text, line, needle) in [
            ("AKIA1 s", 1, "expected"),
            ("\nAKIA1 s 12345", 2, "12 digits"),
            ("AKIA1 s 111111111111\nAKIA1 t 111111111111", 2, "already defined on line 1"),
            ("test s 111111111111", 1, "built in"),
            ("AK/1 s 111111111111", 1, "letters or digits"),
            ("AKIA1 s 111111111111 bad/name", 1, "user name"),
        ] {
            let (l, message) = parse_credentials(text).unwrap_err();
            assert_eq!(l, line, "{text}");
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn credentials_file_loads_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(&path, "AKIAALICE1 s3cret 111111111111 alice\n").unwrap();
        let mut s = store();
        assert_eq!(s.load_credentials_file(&path).unwrap(), 1);
        let alice = s.lookup("AKIAALICE1").unwrap();
        assert_eq!((alice.account.as_str(), alice.secret_access_key.as_str()), ("111111111111", "s3cret"));
        assert!(!format!("{alice:?}").contains("s3cret"));

        std::fs::write(&path, "AKIABAD s 1\n").unwrap();
        let error = s.load_credentials_file(&path).unwrap_err().to_string();
        assert!(error.ends_with("credentials:1: account \"1\" must be 12 digits"), "{error}");
        let error = s.load_credentials_file(&dir.path().join("absent")).unwrap_err();
        assert!(matches!(error, CredentialsFileError::Io { .. }));
    }

    #[test]
    fn sessions_round_trip_through_json_and_persistence() {
        let persistence = Arc::new(MemorySessions::default());
        let s = CredentialStore::new("000000000000", persistence.clone()).unwrap();
        let principal = Principal::Session { parent: Box::new(Principal::User { name: "bob".into() }) };
        let issued = s
            .issue_session("111111111111", principal.clone(), UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
        assert!(issued.access_key_id.starts_with("ASIA") && issued.access_key_id.len() == 20);
        assert_eq!(issued.secret_access_key.len(), 40);
        let json = serde_json::to_string(&issued).unwrap();
        assert_eq!(serde_json::from_str::<SessionCredentials>(&json).unwrap(), issued);
        assert!(!format!("{issued:?}").contains(&issued.secret_access_key));

        let restarted = CredentialStore::new("000000000000", persistence.clone()).unwrap();
        let found = restarted.lookup(&issued.access_key_id).unwrap();
        assert_eq!(found.principal, principal);
        assert_eq!(found.session, Some((issued.session_token.clone(), issued.expiration)));

        assert_eq!(restarted.remove_expired(UNIX_EPOCH + Duration::from_secs(1_800_000_000)).unwrap(), 1);
        assert!(restarted.lookup(&issued.access_key_id).is_none());
        assert!(persistence.load_all().unwrap().is_empty());
    }
}
