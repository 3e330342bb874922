//! Helpers for the tests that run the `glomers` binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A fresh store directory for one test, removed when the test passes. A failing test keeps
/// it (and says where) so its files can be read.
pub struct TempStore(PathBuf);

impl std::ops::Deref for TempStore {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempStore {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl AsRef<Path> for TempStore {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test store kept at {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn temp_store(name: &str) -> TempStore {
    let dir = std::env::temp_dir().join(format!("glomers-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempStore(dir)
}

pub fn node_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/nodes")
        .join(name)
        .display()
        .to_string()
}

pub fn glomers_bin() -> &'static str {
    env!("CARGO_BIN_EXE_glomers")
}

/// What a run of `glomers` left: exit code, stdout, and `results.json` (Null if none).
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub results: Value,
    pub store: TempStore,
}

/// Runs `glomers <args> --store <store>`; `args` must not end in trailing node arguments
/// unless `node_args` is used.
pub fn glomers(args: &[&str], node_args: &[&str], store_name: &str) -> Run {
    let store = temp_store(store_name);
    let output = Command::new(glomers_bin())
        .args(args)
        .arg("--store")
        .arg(&store)
        .args(node_args)
        .output()
        .expect("running glomers");
    let results = std::fs::read_to_string(store.join("latest/results.json"))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(Value::Null);
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        results,
        store,
    }
}

impl Run {
    pub fn assert_valid(&self) {
        assert_eq!(
            self.code, 0,
            "expected a valid run\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.results["valid"], Value::Bool(true), "{}", self.stdout);
    }

    pub fn assert_invalid(&self) {
        assert_eq!(
            self.code, 1,
            "expected an invalid run\n{}\n{}",
            self.stdout, self.stderr
        );
        assert_eq!(self.results["valid"], Value::Bool(false), "{}", self.stdout);
        assert!(self.stdout.contains("Analysis invalid!"), "{}", self.stdout);
    }
}
