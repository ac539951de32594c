//! API credentials: a SecretId, a SecretKey and, for temporary credentials, a session token.
//!
//! They come from the environment or from a directory of files (a mounted Kubernetes Secret).
//! A directory is re-read whenever its files change, so a rotated Secret takes effect on the
//! next request without a restart. Nothing here ever formats the key or the token.
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::error::{Error, Result};

pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";

/// File names inside a credentials directory, as the keys of the Secret that is mounted there.
pub const FILE_SECRET_ID: &str = "secretId";
pub const FILE_SECRET_KEY: &str = "secretKey";
pub const FILE_SESSION_TOKEN: &str = "sessionToken";

const REDACTED: &str = "<redacted>";

/// A string that must never reach a log: `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// One set of credentials. The SecretId is an identifier (it travels in clear in every
/// `Authorization` header), so it is shown; the key and the token are not.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    secret_id: String,
    secret_key: Secret,
    token: Option<Secret>,
}

impl Credentials {
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Self {
            secret_id: secret_id.into(),
            secret_key: Secret::new(secret_key),
            token: None,
        }
    }

    /// Adds the session token of temporary (STS) credentials.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Secret::new(token));
        self
    }

    /// Reads `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and, if set and not empty,
    /// `TENCENTCLOUD_SESSION_TOKEN`.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Credentials::from_env`] with the variables looked up by `lookup` (tests use a map,
    /// since changing the real environment races with other tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let secret_id = get(ENV_SECRET_ID)
            .ok_or_else(|| Error::Credentials(format!("{ENV_SECRET_ID} is not set")))?;
        let secret_key = get(ENV_SECRET_KEY)
            .ok_or_else(|| Error::Credentials(format!("{ENV_SECRET_KEY} is not set")))?;
        let creds = Self::new(secret_id, secret_key);
        Ok(match get(ENV_SESSION_TOKEN) {
            Some(token) => creds.with_token(token),
            None => creds,
        })
    }

    /// Reads `secretId`, `secretKey` and the optional `sessionToken` from `dir`, trimming the
    /// trailing newline that files written by hand usually have.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let read = |name: &str| -> Result<Option<String>> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Credentials(format!(
                    "cannot read {}: {e}",
                    path.display()
                ))),
            }
        };
        let missing = |name: &str| {
            Error::Credentials(format!("{} is missing or empty", dir.join(name).display()))
        };
        let secret_id = read(FILE_SECRET_ID)?.ok_or_else(|| missing(FILE_SECRET_ID))?;
        let secret_key = read(FILE_SECRET_KEY)?.ok_or_else(|| missing(FILE_SECRET_KEY))?;
        let creds = Self::new(secret_id, secret_key);
        Ok(match read(FILE_SESSION_TOKEN)? {
            Some(token) => creds.with_token(token),
            None => creds,
        })
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    pub fn secret_key(&self) -> &Secret {
        &self.secret_key
    }

    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("token", &self.token)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.token.is_some() {
            "temporary"
        } else {
            "permanent"
        };
        write!(f, "SecretId {} ({kind})", self.secret_id)
    }
}

/// Where the client takes its credentials from, asked before every request.
#[derive(Clone)]
pub struct CredentialsProvider(Source);

#[derive(Clone)]
enum Source {
    Fixed(Credentials),
    Dir(Arc<DirSource>),
}

impl CredentialsProvider {
    /// Always the same credentials.
    pub fn fixed(credentials: Credentials) -> Self {
        Self(Source::Fixed(credentials))
    }

    /// The environment variables, read once now: a process's environment does not change.
    pub fn from_env() -> Result<Self> {
        Credentials::from_env().map(Self::fixed)
    }

    /// A directory of files, read now (so a wrong path fails at start-up) and again whenever a
    /// file's modification time, size or identity changes. Kubernetes updates a mounted Secret
    /// by swapping a symlink, which changes what the file names resolve to.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        let source = DirSource {
            dir: dir.into(),
            cache: Mutex::new(None),
        };
        source.current()?;
        Ok(Self(Source::Dir(Arc::new(source))))
    }

    /// The credentials to sign the next request with.
    pub fn current(&self) -> Result<Credentials> {
        match &self.0 {
            Source::Fixed(creds) => Ok(creds.clone()),
            Source::Dir(dir) => dir.current(),
        }
    }
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Fixed(creds) => f.debug_tuple("Fixed").field(creds).finish(),
            Source::Dir(dir) => f.debug_tuple("Dir").field(&dir.dir).finish(),
        }
    }
}

impl fmt::Display for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::Fixed(creds) => write!(f, "{creds}"),
            Source::Dir(dir) => write!(f, "credentials from {}", dir.dir.display()),
        }
    }
}

/// What identifies one version of a file; `None` for a missing file.
type Stamp = Option<(SystemTime, u64, u64)>;

struct DirSource {
    dir: PathBuf,
    cache: Mutex<Option<([Stamp; 3], Credentials)>>,
}

impl DirSource {
    fn stamps(&self) -> [Stamp; 3] {
        [FILE_SECRET_ID, FILE_SECRET_KEY, FILE_SESSION_TOKEN].map(|name| {
            // metadata() follows symlinks, so a swapped Secret shows up as a new file.
            let meta = std::fs::metadata(self.dir.join(name)).ok()?;
            Some((meta.modified().ok()?, meta.len(), inode(&meta)))
        })
    }

    // Three stat calls per request are far cheaper than the HTTPS round trip they precede, and
    // they spare us a file watcher thread.
    fn current(&self) -> Result<Credentials> {
        let stamps = self.stamps();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, creds)) = cache.as_ref()
            && *seen == stamps
        {
            return Ok(creds.clone());
        }
        let creds = Credentials::from_dir(&self.dir)?;
        if cache.is_some() {
            tracing::info!(dir = %self.dir.display(), secret_id = creds.secret_id(), "reloaded Tencent Cloud credentials");
        }
        *cache = Some((stamps, creds.clone()));
        Ok(creds)
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "very-secret-key-material";
    const TOKEN: &str = "session-token-material";

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dac-tencentcloud-{name}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn assert_hidden(text: &str) {
        assert!(!text.contains(KEY), "key leaked in {text:?}");
        assert!(!text.contains(TOKEN), "token leaked in {text:?}");
    }

    #[test]
    fn debug_and_display_never_show_key_or_token() {
        let creds = Credentials::new("AKIDtest", KEY).with_token(TOKEN);
        for text in [
            format!("{creds:?}"),
            format!("{creds:#?}"),
            format!("{creds}"),
            format!("{:?}", creds.secret_key()),
            format!("{}", creds.token().unwrap()),
        ] {
            assert_hidden(&text);
        }
        assert!(format!("{creds:?}").contains("AKIDtest"));
        let provider = CredentialsProvider::fixed(creds);
        assert_hidden(&format!("{provider:?} {provider}"));
    }

    #[test]
    fn env_lookup_requires_id_and_key_and_takes_optional_token() {
        let vars: HashMap<&str, &str> = [
            (ENV_SECRET_ID, "AKIDenv"),
            (ENV_SECRET_KEY, " key\n"),
            (ENV_SESSION_TOKEN, ""),
        ]
        .into();
        let creds = Credentials::from_lookup(|n| vars.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(creds.secret_id(), "AKIDenv");
        assert_eq!(creds.secret_key().expose(), "key");
        assert!(creds.token().is_none(), "an empty token means none");

        let err =
            Credentials::from_lookup(|n| (n == ENV_SECRET_ID).then(|| "x".into())).unwrap_err();
        assert!(err.to_string().contains(ENV_SECRET_KEY), "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::Auth);
    }

    #[test]
    fn directory_is_reloaded_when_files_change() {
        let dir = temp_dir("reload");
        std::fs::write(dir.join(FILE_SECRET_ID), "AKIDone\n").unwrap();
        std::fs::write(dir.join(FILE_SECRET_KEY), "key-one\n").unwrap();
        let provider = CredentialsProvider::from_dir(&dir).unwrap();
        let first = provider.current().unwrap();
        assert_eq!(first.secret_id(), "AKIDone");
        assert!(first.token().is_none());

        // Replace the files the way a Secret update does: new files, new inodes.
        std::fs::write(dir.join("tmp-id"), "AKIDtwo").unwrap();
        std::fs::rename(dir.join("tmp-id"), dir.join(FILE_SECRET_ID)).unwrap();
        std::fs::write(dir.join(FILE_SESSION_TOKEN), TOKEN).unwrap();
        let second = provider.current().unwrap();
        assert_eq!(second.secret_id(), "AKIDtwo");
        assert_eq!(second.token().map(Secret::expose), Some(TOKEN));
        assert_hidden(&format!("{provider:?} {provider} {second:?}"));

        std::fs::remove_file(dir.join(FILE_SECRET_KEY)).unwrap();
        let err = provider.current().unwrap_err();
        assert!(err.to_string().contains(FILE_SECRET_KEY), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_directory_fails_at_start() {
        let err = CredentialsProvider::from_dir("/nonexistent/dac-credentials").unwrap_err();
        assert!(matches!(err, Error::Credentials(_)), "{err:?}");
    }
}
