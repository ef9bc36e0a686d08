//! Packaging, as `aws cloudformation package` does: each code or definition property that
//! names a local path (relative to the template's folder) is uploaded to S3 (a folder as a
//! deterministic zip, a file as it is) under `<stack>/<md5 of the content>`, and the property
//! rewritten to point at the object.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use brume_crypto::Md5;
use serde_json::{Value, json};

/// How a resource type's property points at S3 once packaged.
#[derive(Clone, Copy)]
enum Form {
    /// `s3://bucket/key`.
    Uri,
    /// `{"S3Bucket": …, "S3Key": …}`.
    S3BucketKey,
    /// `{"Bucket": …, "Key": …}`.
    BucketKey,
}

/// The packaged properties: resource type, property, and the form of its S3 location.
const PACKAGED: &[(&str, &str, Form)] = &[
    ("AWS::Serverless::Function", "CodeUri", Form::Uri),
    ("AWS::Lambda::Function", "Code", Form::S3BucketKey),
    ("AWS::Serverless::LayerVersion", "ContentUri", Form::Uri),
    ("AWS::Lambda::LayerVersion", "Content", Form::S3BucketKey),
    ("AWS::Serverless::StateMachine", "DefinitionUri", Form::BucketKey),
    ("AWS::StepFunctions::StateMachine", "DefinitionS3Location", Form::BucketKey),
];

/// One artifact to upload: its key and content.
pub struct Artifact {
    pub key: String,
    pub content: Vec<u8>,
}

/// Rewrites the local paths of `template` to `bucket`, answering the artifacts to upload.
pub fn package(template: &mut Value, base: &Path, bucket: &str, stack: &str) -> Result<Vec<Artifact>> {
    let mut artifacts: Vec<Artifact> = Vec::new();
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return Ok(artifacts);
    };
    for (logical_id, resource) in resources.iter_mut() {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(properties) = resource.get_mut("Properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (_, property, form) in PACKAGED.iter().filter(|(t, _, _)| *t == kind) {
            let Some(path) = properties.get(*property).and_then(Value::as_str).filter(|p| is_local(p)) else {
                continue;
            };
            let local = base.join(path);
            let content = read(&local)
                .with_context(|| format!("{logical_id}'s {property} {path}: cannot read {}", local.display()))?;
            let key = format!("{stack}/{}", brume_core::hex(&Md5::digest(&content)));
            let location = match form {
                Form::Uri => json!(format!("s3://{bucket}/{key}")),
                Form::S3BucketKey => json!({"S3Bucket": bucket, "S3Key": key}),
                Form::BucketKey => json!({"Bucket": bucket, "Key": key}),
            };
            properties.insert((*property).to_string(), location);
            if !artifacts.iter().any(|a| a.key == key) {
                artifacts.push(Artifact { key, content });
            }
        }
    }
    Ok(artifacts)
}

/// A path rather than a URL.
fn is_local(path: &str) -> bool {
    !["s3://", "http://", "https://"].iter().any(|scheme| path.starts_with(scheme))
}

/// A folder zipped, a file as it is.
fn read(path: &Path) -> Result<Vec<u8>> {
    if path.is_dir() { zip_folder(path) } else { Ok(std::fs::read(path)?) }
}

/// The folder's files and folders in a zip whose bytes depend only on their names, contents
/// and permissions: sorted entries, the zip epoch as every timestamp.
pub fn zip_folder(root: &Path) -> Result<Vec<u8>> {
    let mut entries = Vec::new();
    walk(root, root, &mut entries)?;
    entries.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, path, is_dir) in entries {
        let mode = unix_mode(&path)?;
        let options = zip::write::SimpleFileOptions::default()
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(mode);
        if is_dir {
            zip.add_directory(format!("{name}/"), options)?;
        } else {
            zip.start_file(name, options.compression_method(zip::CompressionMethod::Deflated))?;
            zip.write_all(&std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?)?;
        }
    }
    Ok(zip.finish()?.into_inner())
}

/// Every entry below `dir` as (name relative to `root` with `/`, path, is a folder).
fn walk(root: &Path, dir: &Path, entries: &mut Vec<(String, PathBuf, bool)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let relative = path.strip_prefix(root)?;
        let name = relative
            .components()
            .map(|c| c.as_os_str().to_str().ok_or_else(|| anyhow!("{} is not UTF-8", path.display())))
            .collect::<Result<Vec<_>>>()?
            .join("/");
        // Metadata through symbolic links: a link is packaged as what it points at.
        let is_dir = path.is_dir();
        entries.push((name, path.clone(), is_dir));
        if is_dir {
            walk(root, &path, entries)?;
        }
    }
    Ok(())
}

fn unix_mode(path: &Path) -> Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_zips_to_the_same_bytes_whatever_the_times() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("index.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("lib/util.py"), "y = 2\n").unwrap();
        let first = zip_folder(dir.path()).unwrap();
        std::fs::write(dir.path().join("index.py"), "x = 1\n").unwrap();
        assert_eq!(zip_folder(dir.path()).unwrap(), first);
        let archive = zip::ZipArchive::new(std::io::Cursor::new(first)).unwrap();
        let names: Vec<_> = archive.file_names().collect();
        assert_eq!(names.len(), 3);
        assert!(names.contains(&"lib/") && names.contains(&"lib/util.py") && names.contains(&"index.py"));
    }

    #[test]
    fn local_paths_are_rewritten_as_package_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/app.py"), "pass\n").unwrap();
        std::fs::write(dir.path().join("machine.json"), "{}").unwrap();
        let mut template = json!({"Resources": {
            "Sam": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "./src"}},
            "Plain": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "src"}},
            "Remote": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionS3Location": "machine.json"}},
        }});
        let artifacts = package(&mut template, dir.path(), "b", "s").unwrap();
        assert_eq!(artifacts.len(), 2);
        let code = &artifacts.iter().find(|a| a.content != b"{}").unwrap().key;
        assert_eq!(template["Resources"]["Sam"]["Properties"]["CodeUri"], json!(format!("s3://b/{code}")));
        assert_eq!(template["Resources"]["Plain"]["Properties"]["Code"], json!({"S3Bucket": "b", "S3Key": code}));
        assert_eq!(template["Resources"]["Remote"]["Properties"]["Code"], json!({"ZipFile": "x"}));
        let definition = format!("s/{}", brume_core::hex(&Md5::digest(b"{}")));
        assert_eq!(
            template["Resources"]["Machine"]["Properties"]["DefinitionS3Location"],
            json!({"Bucket": "b", "Key": definition})
        );
    }

    #[test]
    fn a_missing_path_names_the_resource() {
        let dir = tempfile::tempdir().unwrap();
        let mut template =
            json!({"Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Code": "nope"}}}});
        let error = package(&mut template, dir.path(), "b", "s").err().unwrap().to_string();
        assert!(error.starts_with("F's Code nope: cannot read"), "{error}");
    }
}
