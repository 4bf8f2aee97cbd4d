//! Shared harness for CLI tests: a scratch copy of an example to break, and a runner that
//! captures exit status, stdout and stderr.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repo root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch copy of `examples/<name>` (its `app/` and `operator/`).
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn example(name: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples").join(name), dir.path());
        Scratch { dir }
    }

    pub fn app(&self) -> PathBuf {
        self.dir.path().join("app")
    }

    pub fn operator(&self) -> PathBuf {
        self.dir.path().join("operator")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Replaces `from` by `to` in `rel`, failing if `from` is not there.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let text = self.read(rel);
        assert!(text.contains(from), "`{from}` not in {rel}");
        self.write(rel, &text.replacen(from, to, 1));
    }

    /// Appends to `rel`.
    pub fn append(&self, rel: &str, text: &str) {
        let mut t = self.read(rel);
        t.push_str(text);
        self.write(rel, &t);
    }

    /// `dovetail <cmd> --app APP --operator OPERATOR` plus `extra`.
    pub fn run(&self, cmd: &str, extra: &[&str]) -> Run {
        let app = self.app();
        let operator = self.operator();
        let mut args = vec![
            cmd,
            "--app",
            app.to_str().unwrap(),
            "--operator",
            operator.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut r = dovetail(&args, self.dir.path());
        r.stdout = self.rel(&r.stdout);
        r.stderr = self.rel(&r.stderr);
        r
    }

    /// Strips the scratch dir's path from `s`, for readable expectations.
    pub fn rel(&self, s: &str) -> String {
        s.replace(&format!("{}/", self.dir.path().display()), "")
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What a run printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts an input error: exit 1, nothing on stdout, and `expected` on stderr.
    pub fn invalid(&self, expected: &str) -> &Run {
        assert_eq!(self.code, 1, "exit status; stderr:\n{}", self.stderr);
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        assert!(
            self.stderr.contains(expected),
            "stderr lacks\n  {expected}\ngot:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs the binary with `args` in `cwd`, without a shell and with a clean environment.
pub fn dovetail(args: &[&str], cwd: &Path) -> Run {
    dovetail_env(args, cwd, &[])
}

/// [`dovetail`] with variables `env` set.
pub fn dovetail_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_dovetail"))
        .args(args)
        .current_dir(cwd)
        .env_remove("DOVETAIL_OPERATOR_REPO")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `dovetail render` of `examples/<name>` from the repo root; asserts success.
pub fn render_example(name: &str) -> Run {
    let app = format!("examples/{name}/app");
    let operator = format!("examples/{name}/operator");
    let r = dovetail(&["render", "--app", &app, "--operator", &operator], &root());
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}
