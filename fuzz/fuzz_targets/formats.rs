//! See `dovetail_fuzz::formats` (fuzz/src/lib.rs) for the checks shared with the corpus
//! test. On top of them, here: each format function of src/input/formats.rs against the
//! regular expression its doc comment says it replaces. A function may be stricter than
//! its pattern (dns_subdomain also caps labels at 63), never more lenient: what the
//! schema lets through, the renderer and the API server must take.
#![no_main]

use std::sync::LazyLock;

use dovetail::input::formats as f;
use regex::Regex;

type Check = (&'static str, fn(&str) -> bool, &'static str);

const PATTERNS: &[Check] = &[
    (
        "dns_label",
        f::dns_label,
        r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    ),
    (
        "dns_subdomain",
        f::dns_subdomain,
        r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$",
    ),
    (
        "process_name",
        f::process_name,
        r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$",
    ),
    (
        "port_name",
        f::port_name,
        r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$",
    ),
    ("env_name", f::env_name, r"^[A-Za-z_][A-Za-z0-9_]*$"),
    ("config_key", f::config_key, r"^[-._a-zA-Z0-9]+$"),
    (
        "plan_name",
        f::plan_name,
        r"^[A-Za-z0-9][-._A-Za-z0-9]{0,62}$",
    ),
    ("http_path", f::http_path, r"^/[!-~]*$"),
    ("printable", f::printable, r"^[!-~]+$"),
    (
        "age_recipient",
        f::age_recipient,
        r"^age1[02-9ac-hj-np-z]{58}$",
    ),
    ("cpu", f::cpu, r"^([0-9]{1,6}m|[0-9]{1,4}(\.[0-9]{1,3})?)$"),
    (
        "bytes",
        f::bytes,
        r"^[0-9]{1,6}(\.[0-9]{1,3})?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$",
    ),
    (
        "image",
        f::image,
        // The grammar its doc comment states, the reference grammar's:
        // [host[:port]/]path[:tag][@sha256:<64 hex>], host labels alphanumeric at both
        // ends, path components [a-z0-9]+(([._]|__|-+)[a-z0-9]+)*.
        r"^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$",
    ),
];

static COMPILED: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(_, _, p)| Regex::new(p).unwrap())
        .collect()
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dovetail_fuzz::formats(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for ((name, check, pattern), re) in PATTERNS.iter().zip(COMPILED.iter()) {
        if check(s) {
            assert!(
                re.is_match(s),
                "formats::{name} accepts {s:?}, which {pattern} refuses"
            );
        }
    }
});
