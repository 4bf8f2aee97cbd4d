//! Runs one target's check on files or directories, without libFuzzer: to reproduce a
//! crash under a debugger or with a backtrace, or to replay a corpus quickly.
//!
//! ```sh
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example replay -- yaml fuzz/regressions/yaml
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().expect("usage: replay TARGET FILE|DIR...");
    let check: fn(&[u8]) = match target.as_str() {
        "yaml" => dovetail_fuzz::yaml,
        "documents" => dovetail_fuzz::documents,
        "secrets_form" => dovetail_fuzz::secrets_form,
        "secrets_file_set" => dovetail_fuzz::secrets_file_set,
        "known_hosts" => dovetail_fuzz::known_hosts,
        "git_url" => dovetail_fuzz::git_url,
        "formats" => dovetail_fuzz::formats,
        "emit" => dovetail_fuzz::emit,
        other => panic!("no target `{other}`"),
    };
    let mut n = 0;
    for arg in args {
        let path = std::path::PathBuf::from(arg);
        let mut files = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![path]
        };
        files.sort();
        for f in files {
            eprintln!("{}", f.display());
            check(&std::fs::read(&f).unwrap());
            n += 1;
        }
    }
    eprintln!("{n} input(s) passed");
}
