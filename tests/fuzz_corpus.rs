//! Every input the fuzz targets keep, replayed by a plain `cargo test` on stable: the
//! minimised corpora (`fuzz/corpus/<target>/`) and every input that once broke an
//! invariant (`fuzz/regressions/<target>/`), through the very checks the fuzz targets run
//! (`fuzz/src/lib.rs`, included below; see `fuzz/README.md`). A failure names every
//! input that failed.
//!
//! The harness needs only what these tests already have (dovetail's dependencies and
//! `tempfile`). What the `formats` fuzz target adds on top of it, each format against its
//! regular expression, needs the `regex` crate and is left to the fuzz target.

use std::path::{Path, PathBuf};

#[path = "../fuzz/src/lib.rs"]
#[allow(
    dead_code,
    reason = "the harness's seeding helpers are for fuzz/examples, not for replaying"
)]
mod harness;

/// The kept inputs of `target`, corpus then regressions, each sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut all = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = dir
            .map(|e| e.expect("a readable directory entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        all.extend(files);
    }
    all
}

fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no kept inputs for `{target}` under fuzz/"
    );
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).expect("a readable input");
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(f.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} kept `{target}` inputs fail (the panic of each is printed above; replay one \
         with `cargo +nightly run --manifest-path fuzz/Cargo.toml --example replay -- {target} FILE`):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn fuzz_corpus_yaml() {
    replay("yaml", harness::yaml);
}

#[test]
fn fuzz_corpus_documents() {
    replay("documents", harness::documents);
}

#[test]
fn fuzz_corpus_secrets_form() {
    replay("secrets_form", harness::secrets_form);
}

#[test]
fn fuzz_corpus_secrets_file_set() {
    replay("secrets_file_set", harness::secrets_file_set);
}

#[test]
fn fuzz_corpus_secrets_file_unset() {
    replay("secrets_file_unset", harness::secrets_file_unset);
}

#[test]
fn fuzz_corpus_known_hosts() {
    replay("known_hosts", harness::known_hosts);
}

#[test]
fn fuzz_corpus_git_url() {
    replay("git_url", harness::git_url);
}

#[test]
fn fuzz_corpus_formats() {
    replay("formats", harness::formats);
}

#[test]
fn fuzz_corpus_emit() {
    replay("emit", harness::emit);
}
