//! What `admin` needs from the machine beyond files and stdio: running
//! another program (wrangler, node), a folder for private temporary files and
//! making a file private. Natively that is `std`. Compiled to WebAssembly
//! (`wasm32-wasip1`, for the bundle that runs with Node alone:
//! `scripts/admin-node.mjs`), WASI has no processes or file modes, so the
//! Node runner does those through two imports, `admin_host.call` and
//! `admin_host.answer`, with JSON each way.

use std::path::{Path, PathBuf};

/// What a program wrote and whether it succeeded.
pub(crate) struct Output {
    pub(crate) success: bool,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// Runs `program` with `args`, extra `env` and `stdin`, and waits for it.
#[cfg(not(target_os = "wasi"))]
pub(crate) fn run(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Result<Output, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let failed = |e: std::io::Error| format!("could not run {program}: {e}");
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input)
            .map_err(failed)?;
    }
    let out = child.wait_with_output().map_err(failed)?;
    Ok(Output {
        success: out.status.success(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// A new file only its owner may read, for a secret on its way to wrangler.
#[cfg(not(target_os = "wasi"))]
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Makes `path` readable by its owner alone (it may exist already).
#[cfg(not(target_os = "wasi"))]
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Where private temporary files go.
#[cfg(not(target_os = "wasi"))]
pub(crate) fn temp_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Threads for parallel wrangler calls: natively, yes.
pub(crate) const THREADS: bool = cfg!(not(target_os = "wasi"));

#[cfg(target_os = "wasi")]
mod wasi {
    #[link(wasm_import_module = "admin_host")]
    extern "C" {
        /// Hands the runner a JSON request; returns the length of its answer.
        fn call(request: *const u8, len: usize) -> usize;
        /// Copies that answer to `into`.
        fn answer(into: *mut u8);
    }

    /// One request to the Node runner, its JSON answer.
    pub(super) fn ask(request: &serde_json::Value) -> serde_json::Value {
        let request = request.to_string();
        // SAFETY: the runner reads `len` bytes at `request` and then writes
        // exactly the length it returned into a buffer of that length.
        let reply = unsafe {
            let len = call(request.as_ptr(), request.len());
            let mut reply = vec![0u8; len];
            answer(reply.as_mut_ptr());
            reply
        };
        serde_json::from_slice(&reply).unwrap_or_default()
    }
}

#[cfg(target_os = "wasi")]
pub(crate) fn run(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Result<Output, String> {
    let env: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    let answer = wasi::ask(&serde_json::json!({
        "run": program,
        "args": args,
        "env": env,
        "stdin": stdin.map(String::from_utf8_lossy),
    }));
    if let Some(e) = answer["error"].as_str() {
        return Err(format!("could not run {program}: {e}"));
    }
    let text = |name: &str| answer[name].as_str().unwrap_or("").as_bytes().to_vec();
    Ok(Output {
        success: answer["success"].as_bool().unwrap_or(false),
        stdout: text("stdout"),
        stderr: text("stderr"),
    })
}

#[cfg(target_os = "wasi")]
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    make_private(path)?;
    Ok(file)
}

#[cfg(target_os = "wasi")]
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    let answer = wasi::ask(&serde_json::json!({ "private": path.display().to_string() }));
    match answer["error"].as_str() {
        None => Ok(()),
        Some(e) => Err(std::io::Error::other(e.to_owned())),
    }
}

#[cfg(target_os = "wasi")]
pub(crate) fn temp_dir() -> PathBuf {
    std::env::var_os("TMPDIR").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
}
