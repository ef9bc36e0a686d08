//! Deployment packages: zips checked as Lambda checks them, stored as blobs, and unpacked
//! once per SHA-256 under `work_dir/packages/<hex>` (into a temporary directory renamed
//! into place, so concurrent first invocations never see half a package).

use std::io::Cursor;
use std::path::PathBuf;

use base64::Engine as _;
use brume_core::AwsError;
use brume_storage::BlobId;
use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Lambda;
use crate::error;
use crate::table::Package;

/// The largest zip a request may carry directly (`CodeSizeZipped`).
pub const MAX_ZIPPED: u64 = 52_428_800;
/// The largest request carrying a zip directly: `MAX_ZIPPED` in base64.
const MAX_REQUEST: u64 = 69_905_067;
/// The largest unzipped function and layers (`CodeSizeUnzipped`).
pub const MAX_UNZIPPED: u64 = 262_144_000;

/// `Code` of CreateFunction and the code members of UpdateFunctionCode; `Content` of
/// PublishLayerVersion.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInput {
    pub zip_file: Option<brume_core::value::Blob>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
}

impl CodeInput {
    pub fn is_empty(&self) -> bool {
        self.zip_file.is_none() && self.s3_bucket.is_none() && self.s3_key.is_none() && self.image_uri.is_none()
    }
}

fn unzip_error() -> AwsError {
    error::invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload again.")
}

/// The unzipped size of a valid zip, or Lambda's error for an invalid one.
fn check_zip(bytes: &[u8]) -> Result<u64, AwsError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unzip_error())?;
    Ok(archive.decompressed_size().map(|s| s as u64).unwrap_or(0))
}

impl Lambda {
    /// The zip `code` carries or names in S3, for `operation`.
    pub(crate) async fn code_bytes(&self, account: &str, code: CodeInput, operation: &str) -> Result<Bytes, AwsError> {
        if code.image_uri.is_some() {
            return Err(error::invalid_parameter(
                "Please don't provide ImageUri when updating a function with packageType Zip.",
            ));
        }
        if let Some(zip) = code.zip_file {
            if code.s3_bucket.is_some() || code.s3_key.is_some() {
                return Err(error::invalid_parameter(
                    "Please do not provide other FunctionCode parameters when providing a ZipFile.",
                ));
            }
            // Lambda limits the request, in which the zip travels as base64.
            if zip.0.len() as u64 > MAX_ZIPPED {
                return Err(AwsError::new(
                    413,
                    "RequestEntityTooLargeException",
                    format!("Request must be smaller than {MAX_REQUEST} bytes for the {operation} operation"),
                )
                .with_member("Type", serde_json::Value::String("User".into())));
            }
            return Ok(Bytes::from(zip.0));
        }
        match (code.s3_bucket, code.s3_key) {
            (Some(bucket), Some(key)) => {
                let bytes = self
                    .s3
                    .get_object_bytes(account, &bucket, &key, code.s3_object_version.as_deref(), MAX_UNZIPPED)
                    .await
                    .map_err(|e| {
                        // S3's refusals reach the caller as Lambda words them.
                        if e.status >= 500 {
                            return e;
                        }
                        error::invalid_parameter(format!(
                            "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                            e.code, e.message
                        ))
                    })?;
                Ok(Bytes::from(bytes))
            }
            _ => Err(error::invalid_parameter("Please provide a source for function code.")),
        }
    }

    /// Checks `zip` and stores it.
    pub(crate) async fn store_package(&self, zip: &[u8]) -> Result<Package, AwsError> {
        let unzipped = check_zip(zip)?;
        if unzipped > MAX_UNZIPPED {
            return Err(error::invalid_parameter(format!("Unzipped size must be smaller than {MAX_UNZIPPED} bytes")));
        }
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip));
        let mut writer = self.blobs.create().await?;
        writer.write(bytes::Bytes::copy_from_slice(zip)).await?;
        let blob = writer.commit().await?;
        Ok(Package { blob: blob.to_string(), sha256, size: zip.len() as u64 })
    }

    /// Deletes the blobs of `packages`, logging failures: the records are already gone.
    pub(crate) async fn delete_packages(&self, packages: impl IntoIterator<Item = Package>) {
        for package in packages {
            let Ok(id) = package.blob.parse::<BlobId>() else { continue };
            if let Err(e) = self.blobs.delete(id).await {
                tracing::warn!(blob = %package.blob, error = %e, "cannot delete a code package");
            }
        }
    }

    /// The zip of a stored package.
    pub(crate) async fn package_bytes(&self, package: &Package) -> Result<Vec<u8>, AwsError> {
        let id: BlobId = package.blob.parse()?;
        let reader = self.blobs.open(id, None).await?;
        let mut bytes = Vec::with_capacity(package.size as usize);
        brume_storage::read_to_end(reader, &mut bytes).await.map_err(|e| error::service_exception(e.to_string()))?;
        Ok(bytes)
    }

    /// The directory `package` is unpacked in, unpacking it first if it is not yet.
    pub(crate) async fn unpacked(&self, package: &Package) -> Result<PathBuf, AwsError> {
        let root = self.settings.work_dir.join("packages");
        let dir = root.join(package.hex());
        if tokio::fs::try_exists(&dir).await.unwrap_or(false) {
            return Ok(dir);
        }
        let zip = self.package_bytes(package).await?;
        let target = dir.clone();
        tokio::task::spawn_blocking(move || unpack(&zip, &root, &target))
            .await
            .map_err(|e| error::service_exception(e.to_string()))?
            .map_err(|e| {
                tracing::error!(dir = %dir.display(), error = %e, "cannot unpack a code package");
                error::service_exception("An error occurred while unpacking the function's code.")
            })?;
        Ok(dir)
    }
}

/// Unzips `zip` into `target` through a temporary sibling directory. Losing the race to a
/// concurrent unpack of the same package is fine: the winner's directory is the same.
fn unpack(zip: &[u8], root: &std::path::Path, target: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    let tmp = tempfile::Builder::new().prefix(".unpack-").tempdir_in(root)?;
    zip::ZipArchive::new(Cursor::new(zip))
        .and_then(|mut archive| archive.extract(tmp.path()))
        .map_err(std::io::Error::other)?;
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, target) {
        Ok(()) => Ok(()),
        Err(_) if target.exists() => std::fs::remove_dir_all(&tmp),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        for (name, body) in files {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
            writer.start_file(*name, options).unwrap();
            writer.write_all(body.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn zips_are_checked_and_unpacked_with_their_modes() {
        assert_eq!(check_zip(b"not a zip").unwrap_err().code, "InvalidParameterValueException");
        let zip = zip_of(&[("bootstrap", "#!/bin/sh\n"), ("lib/a.py", "x = 1\n")]);
        assert_eq!(check_zip(&zip).unwrap(), 16);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("abc");
        unpack(&zip, dir.path(), &target).unwrap();
        unpack(&zip, dir.path(), &target).unwrap();
        assert_eq!(std::fs::read_to_string(target.join("lib/a.py")).unwrap(), "x = 1\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(target.join("bootstrap")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary directory is left behind");
    }

    #[test]
    fn concurrent_unpacks_of_one_package_all_succeed() {
        let zip = zip_of(&[("index.py", "def handler(e, c):\n    return e\n")]);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("pkg");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| unpack(&zip, dir.path(), &target).unwrap());
            }
        });
        assert!(target.join("index.py").is_file());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
