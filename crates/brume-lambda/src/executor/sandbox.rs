//! The `--sandbox` mode: each runtime runs under bubblewrap (`bwrap`) with a read-only
//! view of the machine, Brume's data directory hidden but for the function's own code and
//! layers, a private `/tmp`, and a network namespace of its own that has nothing but
//! loopback. Inside, Brume's bridge ([`bridge`]) listens on the loopback ports the runtime
//! expects — the Runtime API and Brume's endpoint — and forwards each connection to a
//! Unix socket bound into the sandbox, so the function reaches Brume and nothing else.

use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::environment::Launch;

/// Where the Runtime API answers inside a sandbox.
pub(super) const RUNTIME_API_PORT: u16 = 9001;

/// How runtimes are sandboxed.
#[derive(Clone, Debug)]
pub struct Sandbox {
    /// The `bwrap` program.
    pub bwrap: PathBuf,
    /// The Brume executable, which runs the bridge (`brume lambda-bridge`).
    pub bridge: PathBuf,
    /// Directories the function must not see (Brume's data).
    pub hide: Vec<PathBuf>,
}

/// The sockets and directories of one sandboxed environment.
pub(super) struct Mounts<'a> {
    pub code: &'a Path,
    pub layers: &'a [PathBuf],
    pub runtimes: &'a Path,
    /// Bound at `/tmp`.
    pub tmp: &'a Path,
    /// Holds the Runtime API socket; bound at `/run/brume`.
    pub run: &'a Path,
    /// The socket that leads to Brume's endpoint.
    pub brume_socket: &'a Path,
    pub brume_port: u16,
}

impl Sandbox {
    /// `launch` run inside a sandbox: bwrap's arguments, then the bridge's, then the
    /// runtime's. The environment variables stay as they are (bwrap passes them on).
    pub(super) fn wrap(&self, launch: Launch, mounts: &Mounts) -> Launch {
        let path = |p: &Path| p.display().to_string();
        let mut args: Vec<String> =
            ["--die-with-parent", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
                .map(String::from)
                .to_vec();
        // The sandbox's root is a fresh tmpfs: the machine's top-level directories are
        // bound into it read-only, but for the ones every sandbox gets its own of.
        for entry in std::fs::read_dir("/").into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if OWN.contains(&name.as_str()) {
                continue;
            }
            let at = format!("/{name}");
            match std::fs::read_link(entry.path()) {
                Ok(target) => args.extend(["--symlink".into(), path(&target), at]),
                Err(_) if entry.path().is_dir() => args.extend(["--ro-bind".into(), at.clone(), at]),
                Err(_) => {}
            }
        }
        args.extend(
            ["--proc", "/proc", "--dev", "/dev", "--ro-bind", "/sys", "/sys", "--tmpfs", "/run"].map(String::from),
        );
        let mut bind = |kind: &str, from: &Path, to: &Path| args.extend([kind.into(), path(from), path(to)]);
        bind("--bind", mounts.tmp, Path::new("/tmp"));
        bind("--bind", mounts.run, Path::new(RUN));
        bind("--bind", mounts.brume_socket, Path::new(BRUME_SOCKET));
        for hidden in &self.hide {
            args.extend(["--tmpfs".into(), path(hidden)]);
        }
        let mut bind = |kind: &str, from: &Path, to: &Path| args.extend([kind.into(), path(from), path(to)]);
        bind("--ro-bind", mounts.code, mounts.code);
        for layer in mounts.layers {
            bind("--ro-bind", layer, layer);
        }
        bind("--ro-bind", mounts.runtimes, mounts.runtimes);
        // The bridge and the runtime's program may live where the sandbox has its own
        // directories (a checkout or a virtualenv under /tmp): shown read-only. For the
        // program, its installation (a virtualenv's root: the parent of its `bin`).
        if !self.visible(&self.bridge) {
            bind("--ro-bind", &self.bridge, &self.bridge);
        }
        if !self.visible(&launch.program)
            && let Some(root) = launch.program.parent().and_then(Path::parent)
        {
            bind("--ro-bind", root, root);
        }
        args.extend([
            "--".into(),
            path(&self.bridge),
            "lambda-bridge".into(),
            format!("{RUN}/{RUNTIME_SOCKET}"),
            BRUME_SOCKET.into(),
            mounts.brume_port.to_string(),
            path(&launch.program),
        ]);
        args.extend(launch.args);
        let mut env = launch.env;
        env.insert("AWS_LAMBDA_RUNTIME_API".into(), format!("127.0.0.1:{RUNTIME_API_PORT}"));
        env.insert("TMPDIR".into(), "/tmp".into());
        Launch { program: self.bwrap.clone(), args, env }
    }
}

impl Sandbox {
    /// Whether `path` is seen inside a sandbox as it is outside (not under a directory the
    /// sandbox has its own of, nor hidden).
    fn visible(&self, path: &Path) -> bool {
        let top = path.components().nth(1).map(|c| c.as_os_str().to_string_lossy().into_owned());
        !top.is_some_and(|t| OWN.contains(&t.as_str())) && !self.hide.iter().any(|h| path.starts_with(h))
    }
}

/// Top-level directories a sandbox has its own of, not the machine's.
const OWN: &[&str] = &["proc", "dev", "sys", "tmp", "run"];

/// Where the environment's sockets are inside the sandbox.
const RUN: &str = "/run/brume";
const BRUME_SOCKET: &str = "/run/brume.sock";

/// The Runtime API socket's name in an environment's `run` directory.
pub(super) const RUNTIME_SOCKET: &str = "runtime.sock";

/// Forwards every connection to the Unix socket `path` to Brume's endpoint `target`, for
/// as long as the returned task runs.
pub(super) fn serve_endpoint(
    path: &Path,
    target: std::net::SocketAddr,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((mut inside, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                if let Ok(mut brume) = TcpStream::connect(target).await {
                    let _ = brume.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inside, &mut brume).await;
                }
            });
        }
    }))
}

/// What the socket directories made in `base` are called: the prefix, then as many random
/// characters.
pub(super) const SOCKETS_PREFIX: &str = "brume-";
pub(super) const SOCKETS_RANDOM: usize = 6;
const SOCKETS_NAME_LEN: usize = SOCKETS_PREFIX.len() + SOCKETS_RANDOM;
/// The socket in such a directory that leads sandboxes to Brume's endpoint.
pub(super) const ENDPOINT_SOCKET: &str = "brume.sock";

/// Removes the socket directories in `base` that a Brume killed without a chance to clean
/// up left behind: a directory of `uid` named as Brume names them, holding its endpoint
/// socket, on which nobody listens, and nothing else but its environments' directories,
/// each holding at most a Runtime API socket. Anything else there, another user's, or a
/// running Brume's, is left alone. Returns how many were removed.
pub(super) fn sweep_stale_sockets(base: &Path, uid: u32) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(SOCKETS_PREFIX) || name.len() != SOCKETS_NAME_LEN {
            continue;
        }
        let dir = entry.path();
        // Not following links: a link named like ours is not ours.
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let Some(environments) = left_by_brume(&dir) else { continue };
        let endpoint = dir.join(ENDPOINT_SOCKET);
        let refused = std::os::unix::net::UnixStream::connect(&endpoint)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
        // The endpoint socket goes last, so a sweep stopped halfway is taken up by the next;
        // `remove_dir` fails if anything appeared meanwhile.
        let cleared = refused
            && environments.iter().all(|env| {
                let socket = env.join(RUNTIME_SOCKET);
                (!socket.exists() || std::fs::remove_file(&socket).is_ok()) && std::fs::remove_dir(env).is_ok()
            });
        if cleared && std::fs::remove_file(&endpoint).is_ok() && std::fs::remove_dir(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The environments' directories in `dir` if it holds what a Brume leaves there: its
/// endpoint socket, and directories holding at most a Runtime API socket.
fn left_by_brume(dir: &Path) -> Option<Vec<PathBuf>> {
    use std::os::unix::fs::FileTypeExt;
    let mut endpoint = false;
    let mut environments = Vec::new();
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        // The entry's own type: links are not followed.
        let kind = entry.file_type().ok()?;
        if entry.file_name() == ENDPOINT_SOCKET && kind.is_socket() {
            endpoint = true;
        } else if kind.is_dir() {
            let env = entry.path();
            for inner in std::fs::read_dir(&env).ok()? {
                let inner = inner.ok()?;
                if inner.file_name() != RUNTIME_SOCKET || !inner.file_type().ok()?.is_socket() {
                    return None;
                }
            }
            environments.push(env);
        } else {
            return None;
        }
    }
    endpoint.then_some(environments)
}

/// The bridge inside a sandbox (`brume lambda-bridge RUNTIME_SOCKET BRUME_SOCKET PORT
/// PROGRAM ARGS...`): forwards loopback port 9001 to the Runtime API socket and Brume's
/// port to Brume's socket, runs the runtime, and exits as it exits.
pub fn bridge(args: &[String]) -> i32 {
    let [runtime_socket, brume_socket, port, program, rest @ ..] = args else {
        eprintln!("usage: brume lambda-bridge RUNTIME_SOCKET BRUME_SOCKET PORT PROGRAM [ARGS...]");
        return 2;
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("lambda-bridge: bad port {port}");
        return 2;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lambda-bridge: {e}");
            return 1;
        }
    };
    runtime.block_on(async move {
        let forwards = [
            (format!("127.0.0.1:{RUNTIME_API_PORT}"), PathBuf::from(runtime_socket)),
            (format!("127.0.0.1:{port}"), PathBuf::from(brume_socket)),
            (format!("[::1]:{port}"), PathBuf::from(brume_socket)),
        ];
        for (address, socket) in forwards {
            match TcpListener::bind(&address).await {
                Ok(listener) => {
                    tokio::spawn(forward(listener, socket));
                }
                // Loopback without IPv6: the IPv4 address is enough.
                Err(_) if address.starts_with('[') => {}
                Err(e) => {
                    eprintln!("lambda-bridge: listening on {address}: {e}");
                    return 1;
                }
            }
        }
        match tokio::process::Command::new(program).args(rest).status().await {
            Ok(status) => status.code().unwrap_or(137),
            Err(e) => {
                eprintln!("fork/exec {program}: {e}");
                1
            }
        }
    })
}

async fn forward(listener: TcpListener, socket: PathBuf) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else { continue };
        let socket = socket.clone();
        tokio::spawn(async move {
            if let Ok(mut unix) = UnixStream::connect(&socket).await {
                let _ = tcp.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn only_socket_directories_nobody_listens_on_are_swept() {
        let base = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let dir = base.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            dir
        };
        let bind = |dir: &Path| std::os::unix::net::UnixListener::bind(dir.join(ENDPOINT_SOCKET)).unwrap();
        // A killed Brume's: its listener is gone, the socket files stay.
        let stale = make("brume-aaaaaa");
        drop(bind(&stale));
        let environment = make("brume-aaaaaa/Xy12ab");
        drop(std::os::unix::net::UnixListener::bind(environment.join(RUNTIME_SOCKET)).unwrap());
        make("brume-aaaaaa/empty1");
        let live = make("brume-bbbbbb");
        let _listening = bind(&live);
        let crowded = make("brume-cccccc");
        drop(bind(&crowded));
        std::fs::write(crowded.join("other"), b"x").unwrap();
        let misnamed = make("brume-dddddd-x");
        drop(bind(&misnamed));
        let not_a_socket = make("brume-eeeeee");
        std::fs::write(not_a_socket.join(ENDPOINT_SOCKET), b"x").unwrap();
        let crowded_environment = make("brume-ffffff");
        drop(bind(&crowded_environment));
        std::fs::write(make("brume-ffffff/Xy12ab").join("other"), b"x").unwrap();
        let uid = std::fs::metadata(base.path()).unwrap().uid();
        assert_eq!(sweep_stale_sockets(base.path(), uid + 1), 0, "another user's");
        assert_eq!(sweep_stale_sockets(base.path(), uid), 1);
        assert!(!stale.exists());
        for kept in [&live, &crowded, &misnamed, &not_a_socket, &crowded_environment] {
            assert!(kept.exists(), "{}", kept.display());
        }
    }

    #[test]
    fn programs_under_the_sandboxs_own_directories_are_shown_read_only() {
        let sandbox = Sandbox {
            bwrap: "/usr/bin/bwrap".into(),
            bridge: "/tmp/checkout/target/debug/brume".into(),
            hide: vec!["/data".into()],
        };
        let launch = Launch { program: "/tmp/checkout/.venv/bin/python".into(), args: vec![], env: BTreeMap::new() };
        let mounts = Mounts {
            code: Path::new("/data/code"),
            layers: &[],
            runtimes: Path::new("/data/runtimes"),
            tmp: Path::new("/data/env"),
            run: Path::new("/tmp/brume-x/env-1"),
            brume_socket: Path::new("/tmp/brume-x/brume.sock"),
            brume_port: 4566,
        };
        let args = sandbox.wrap(launch, &mounts).args.join(" ");
        assert!(args.contains("--ro-bind /tmp/checkout/target/debug/brume /tmp/checkout/target/debug/brume"), "{args}");
        assert!(args.contains("--ro-bind /tmp/checkout/.venv /tmp/checkout/.venv"), "{args}");
        // After /tmp is the environment's own, or the binds would be hidden under it.
        assert!(args.find("--bind /data/env /tmp").unwrap() < args.find("--ro-bind /tmp/checkout/.venv").unwrap());
    }

    #[test]
    fn runtimes_are_wrapped_with_their_mounts_and_the_bridge() {
        let sandbox =
            Sandbox { bwrap: "/usr/bin/bwrap".into(), bridge: "/usr/bin/brume".into(), hide: vec!["/data".into()] };
        let launch = Launch {
            program: "/usr/bin/python3".into(),
            args: vec!["/data/lambda/runtimes/bootstrap.py".into()],
            env: BTreeMap::from([("AWS_LAMBDA_RUNTIME_API".to_string(), "127.0.0.1:1234".to_string())]),
        };
        let mounts = Mounts {
            code: Path::new("/data/lambda/code/abc"),
            layers: &[PathBuf::from("/data/lambda/layers/l1")],
            runtimes: Path::new("/data/lambda/runtimes"),
            tmp: Path::new("/data/lambda/environments/env-1"),
            run: Path::new("/tmp/brume-x/env-1"),
            brume_socket: Path::new("/tmp/brume-x/brume.sock"),
            brume_port: 4566,
        };
        let wrapped = sandbox.wrap(launch, &mounts);
        assert_eq!(wrapped.program, PathBuf::from("/usr/bin/bwrap"));
        let args = wrapped.args.join(" ");
        assert!(args.contains("--unshare-net"), "{args}");
        assert!(args.contains("--ro-bind /usr /usr"), "{args}");
        assert!(!args.contains("--ro-bind /tmp /tmp") && !args.contains("--ro-bind /proc /proc"), "{args}");
        // The data directory is hidden first, then the function's own parts shown again.
        let hidden = args.find("--tmpfs /data").unwrap();
        assert!(hidden < args.find("--ro-bind /data/lambda/code/abc /data/lambda/code/abc").unwrap(), "{args}");
        assert!(args.contains("--ro-bind /data/lambda/layers/l1 /data/lambda/layers/l1"), "{args}");
        assert!(args.contains("--bind /data/lambda/environments/env-1 /tmp"), "{args}");
        assert!(args.contains("--bind /tmp/brume-x/env-1 /run/brume"), "{args}");
        assert!(args.ends_with(
            "-- /usr/bin/brume lambda-bridge /run/brume/runtime.sock /run/brume.sock 4566 \
             /usr/bin/python3 /data/lambda/runtimes/bootstrap.py"
        ));
        assert!(!args.contains("--ro-bind /usr/bin/brume"), "visible programs are not bound again: {args}");
        assert_eq!(wrapped.env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(wrapped.env["TMPDIR"], "/tmp");
    }
}
