//! What runs a function: the package's `bootstrap` for the `provided` runtimes, and
//! Brume's own Runtime API loops (embedded here) for Python and Node.js, run by this
//! machine's interpreters (`BRUME_LAMBDA_PYTHON` and `BRUME_LAMBDA_NODE` name others).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::FunctionSpec;
use super::environment::Launch;

const PYTHON_BOOTSTRAP: &str = include_str!("runtimes/bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("runtimes/bootstrap.mjs");

/// The runtime loops, written once to a directory of their own.
pub(super) struct Runtimes {
    dir: PathBuf,
    python: String,
    node: String,
}

impl Runtimes {
    pub fn new(dir: PathBuf) -> Runtimes {
        Runtimes {
            dir,
            python: std::env::var("BRUME_LAMBDA_PYTHON").unwrap_or_else(|_| "python3".into()),
            node: std::env::var("BRUME_LAMBDA_NODE").unwrap_or_else(|_| "node".into()),
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Writes the runtime loops (again: an older Brume may have left other versions).
    pub fn install(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        std::fs::write(self.dir.join("bootstrap.py"), PYTHON_BOOTSTRAP)?;
        std::fs::write(self.dir.join("bootstrap.mjs"), NODE_BOOTSTRAP)
    }

    /// The program, arguments and environment of `spec`'s runtime, with the role's
    /// `credentials` (access key id, secret, session token).
    pub fn launch(
        &self,
        spec: &FunctionSpec,
        endpoint: &str,
        log_stream: &str,
        credentials: (String, String, String),
    ) -> Result<Launch, String> {
        let family = Family::of(&spec.runtime).ok_or_else(|| format!("unsupported runtime {}", spec.runtime))?;
        let mut env = BTreeMap::new();
        // The function's own variables first: Lambda's reserved ones win.
        env.extend(spec.environment.clone());
        let mut path: Vec<String> = spec.layer_dirs.iter().map(|l| l.join("bin").display().to_string()).collect();
        path.push(std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()));
        let (program, args) = match family {
            Family::Provided => {
                let bootstrap = std::iter::once(spec.code_dir.as_path())
                    .chain(spec.layer_dirs.iter().map(PathBuf::as_path))
                    .map(|dir| dir.join("bootstrap"))
                    .find(|b| b.exists())
                    .unwrap_or_else(|| spec.code_dir.join("bootstrap"));
                (bootstrap, Vec::new())
            }
            Family::Python => {
                let version = spec.runtime.trim_start_matches("python");
                let mut layers = Vec::new();
                for layer in &spec.layer_dirs {
                    layers.push(layer.join(format!("python/lib/python{version}/site-packages")));
                    layers.push(layer.join("python"));
                }
                env.insert("BRUME_LAMBDA_PYTHONPATH".into(), join(&layers));
                env.insert("PYTHONUNBUFFERED".into(), "1".into());
                env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
                (PathBuf::from(&self.python), vec![self.dir.join("bootstrap.py").display().to_string()])
            }
            Family::Node => {
                let mut modules = Vec::new();
                for layer in &spec.layer_dirs {
                    modules.push(layer.join("nodejs/node_modules"));
                    modules.push(layer.join(format!("nodejs/{}/node_modules", spec.runtime.trim_end_matches(".x"))));
                }
                env.insert("NODE_PATH".into(), join(&modules));
                (PathBuf::from(&self.node), vec![self.dir.join("bootstrap.mjs").display().to_string()])
            }
        };
        let task_root = spec.code_dir.display().to_string();
        let (key, secret, token) = credentials;
        let reserved = [
            ("PATH", path.join(":")),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            ("LAMBDA_TASK_ROOT", task_root),
            ("LAMBDA_RUNTIME_DIR", self.dir.display().to_string()),
            ("_HANDLER", spec.handler.clone()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
            ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", spec.version.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", spec.log_group.clone()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream.to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_REGION", spec.region.clone()),
            ("AWS_DEFAULT_REGION", spec.region.clone()),
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_SESSION_TOKEN", token),
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ];
        env.extend(reserved.into_iter().map(|(k, v)| (k.to_string(), v)));
        Ok(Launch { program, args, env })
    }
}

fn join(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

/// How a runtime identifier is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Provided,
    Python,
    Node,
}

impl Family {
    fn of(runtime: &str) -> Option<Family> {
        if runtime == "provided" || runtime.starts_with("provided.") {
            Some(Family::Provided)
        } else if runtime.starts_with("python3") {
            Some(Family::Python)
        } else if runtime.starts_with("nodejs") {
            Some(Family::Node)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_identifiers_map_to_families() {
        for (runtime, family) in [
            ("provided.al2023", Some(Family::Provided)),
            ("provided.al2", Some(Family::Provided)),
            ("provided", Some(Family::Provided)),
            ("python3.12", Some(Family::Python)),
            ("python3.9", Some(Family::Python)),
            ("nodejs20.x", Some(Family::Node)),
            ("nodejs22.x", Some(Family::Node)),
            ("java21", None),
            ("dotnet8", None),
        ] {
            assert_eq!(Family::of(runtime), family, "{runtime}");
        }
    }
}
