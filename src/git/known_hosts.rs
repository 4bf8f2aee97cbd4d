//! Checking an SSH server's host key against an OpenSSH `known_hosts` file.
//!
//! libgit2 hands us the server's raw host key and leaves the decision to us; accepting it
//! unchecked would let anyone on the path serve the operator's repo. There is no
//! maintained crate for matching a raw key against `known_hosts` without pulling in a
//! whole SSH client, so this is our own: plain and wildcard host patterns, `[host]:port`,
//! negation and `@revoked`. Hashed entries (`|1|…`) need HMAC-SHA1 and are reported as
//! unsupported rather than silently skipped.

use base64::Engine as _;

/// What the file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A line for this host lists exactly this key.
    Match,
    /// The key is marked `@revoked`.
    Revoked,
    /// The host is listed, but with other keys: the key changed or someone is in between.
    Mismatch,
    /// The host is not listed at all.
    Unknown {
        /// Whether the file holds hashed entries we could not read.
        hashed_entries: bool,
    },
}

/// Looks `host` (on `port`) up in `text` for a key of type `key_type` with raw bytes
/// `key`.
pub fn check(text: &str, host: &str, port: u16, key_type: &str, key: &[u8]) -> Verdict {
    let name = if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    };
    let mut listed = false;
    let mut matched = false;
    let mut hashed = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(mut first) = fields.next() else {
            continue;
        };
        let marker = first.strip_prefix('@');
        if marker.is_some() {
            let Some(next) = fields.next() else { continue };
            first = next;
        }
        if marker == Some("cert-authority") {
            continue;
        }
        let (Some(kind), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        if first.starts_with("|1|") {
            hashed = true;
            continue;
        }
        if !hosts_match(first, &name) {
            continue;
        }
        let same = kind == key_type
            && base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_ok_and(|k| k == key);
        if marker == Some("revoked") {
            if same {
                return Verdict::Revoked;
            }
            continue;
        }
        listed = true;
        matched |= same;
    }
    match (matched, listed) {
        (true, _) => Verdict::Match,
        (false, true) => Verdict::Mismatch,
        (false, false) => Verdict::Unknown {
            hashed_entries: hashed,
        },
    }
}

/// Whether a comma-separated pattern list matches `name`: some pattern matches and no
/// negated one does.
fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut hit = false;
    for p in patterns.split(',') {
        let p = p.to_ascii_lowercase();
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if glob(p.as_bytes(), name.as_bytes()) {
            hit = true;
        }
    }
    hit
}

/// `*` and `?` as OpenSSH reads them in host patterns. Backtracks only to the last `*`
/// seen, so the work is at most the product of the two lengths: a recursive matcher
/// takes exponential time on a line of many stars (`******x`), and the file is the
/// deployment's, not ours.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // After the last `*`: where the pattern goes on, and where in the text it was tried.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, t));
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // The star takes one more byte, and the rest of the pattern tries again.
                Some((after, tried)) => {
                    p = after;
                    t = tried + 1;
                    star = Some((after, t));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"\x00\x00\x00\x0bssh-ed25519key-one";
    const OTHER: &[u8] = b"\x00\x00\x00\x0bssh-ed25519key-two";

    fn line(hosts: &str, key: &[u8]) -> String {
        format!(
            "{hosts} ssh-ed25519 {}\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    #[test]
    fn plain_entries_match_only_their_key() {
        let text = format!(
            "# comment\n{}{}",
            line("git.example.com,10.0.0.1", KEY),
            line("other.example", OTHER)
        );
        assert_eq!(
            check(&text, "git.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Match
        );
        assert_eq!(
            check(&text, "GIT.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Match
        );
        assert_eq!(
            check(&text, "git.example.com", 22, "ssh-ed25519", OTHER),
            Verdict::Mismatch
        );
        assert_eq!(
            check(&text, "git.example.com", 22, "ssh-rsa", KEY),
            Verdict::Mismatch
        );
        assert_eq!(
            check(&text, "unlisted.example", 22, "ssh-ed25519", KEY),
            Verdict::Unknown {
                hashed_entries: false
            }
        );
    }

    #[test]
    fn ports_other_than_22_need_the_bracketed_form() {
        let text = line("[127.0.0.1]:2222", KEY);
        assert_eq!(
            check(&text, "127.0.0.1", 2222, "ssh-ed25519", KEY),
            Verdict::Match
        );
        assert!(matches!(
            check(&text, "127.0.0.1", 22, "ssh-ed25519", KEY),
            Verdict::Unknown { .. }
        ));
    }

    #[test]
    fn wildcards_negation_and_revocation() {
        let text = format!(
            "{}{}",
            line("*.example.com,!evil.example.com", KEY),
            format_args!("@revoked {}", line("old.example.com", KEY))
        );
        assert_eq!(
            check(&text, "git.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Match
        );
        assert!(matches!(
            check(&text, "evil.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Unknown { .. }
        ));
        assert_eq!(
            check(&text, "old.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Revoked
        );
    }

    #[test]
    fn glob_matches_as_openssh_does() {
        for (pattern, text, want) in [
            ("*", "", true),
            ("*", "git.example.com", true),
            ("*.example.com", "git.example.com", true),
            ("*.example.com", "example.com", false),
            ("git.*.com", "git.a.b.com", true),
            ("g?t.example.com", "git.example.com", true),
            ("g?t.example.com", "gt.example.com", false),
            ("**a*", "bab", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("", "a", false),
            ("a", "", false),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), text.as_bytes()),
                want,
                "{pattern} ~ {text}"
            );
        }
    }

    /// Found by the `known_hosts` fuzz target (`fuzz/regressions/known_hosts/`): a pattern
    /// of many stars against a long host name took seconds with the recursive matcher.
    #[test]
    fn many_stars_match_in_linear_time() {
        let host = "a".repeat(200);
        let text = format!("{} ssh-ed25519 AAAA\n", "*".repeat(100) + "x");
        let start = std::time::Instant::now();
        assert!(matches!(
            check(&text, &host, 22, "ssh-ed25519", KEY),
            Verdict::Unknown { .. }
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn hashed_entries_are_reported_not_skipped_silently() {
        let text = "|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA\n";
        assert_eq!(
            check(text, "git.example.com", 22, "ssh-ed25519", KEY),
            Verdict::Unknown {
                hashed_entries: true
            }
        );
    }
}
