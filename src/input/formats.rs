//! The string formats of the schemas (`"format": "dovetail-…"`), checked in Rust.
//!
//! They were regular expressions first. Each `pattern` costs a regex compilation in
//! every process (about 0.3 ms each, twenty of them per render), and ArgoCD runs a render
//! for every app on every refresh; these checks cost microseconds. Each function states
//! the rule it checks as the pattern it replaces. Editors that do not know a format
//! ignore it; `dovetail validate` checks them all.

use crate::quantity::Quantity;

fn all(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(ok)
}

fn lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A DNS label of at most `max` characters: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && all(s, |b| lower_alnum(b) || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`: a Kubernetes name, namespace or container name.
pub fn dns_label(s: &str) -> bool {
    label(s, 63)
}

/// `^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$`, at most 253: a DNS subdomain (class names).
pub fn dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(|l| label(l, 63))
}

/// `^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$`: a process name, not starting with `db-`: a
/// process's objects are named `<app>-<process>`, and CloudNativePG names the database's
/// `<app>-db-rw`, `<app>-db-ro`, `<app>-db-ca`, `<app>-db-primary`… (the exact reserved
/// names are in the schema's `not`).
pub fn process_name(s: &str) -> bool {
    label(s, 20) && s.as_bytes()[0].is_ascii_lowercase() && !s.starts_with("db-")
}

/// An IP block as Kubernetes' `ipBlock` takes it, host bits zero.
pub fn cidr(s: &str) -> bool {
    crate::cidr::Cidr::parse(s).is_some()
}

/// A process name or `*` (allocation keys).
pub fn process_key(s: &str) -> bool {
    s == "*" || process_name(s)
}

/// A port name as the API server takes it (`IsValidPortName`, `IANA_SVC_NAME`): at most 15
/// lowercase letters, digits and '-', at least one letter, no `--`, no '-' at either end.
pub fn port_name(s: &str) -> bool {
    label(s, 15) && s.bytes().any(|b| b.is_ascii_lowercase()) && !s.contains("--")
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`: an environment variable name.
pub fn env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && all(s, |b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The longest key a secrets file takes.
pub const MAX_SECRET_NAME: usize = 128;

/// A key of a secrets file: an [`env_name`] of at most [`MAX_SECRET_NAME`] characters.
pub fn secret_name(s: &str) -> bool {
    s.len() <= MAX_SECRET_NAME && env_name(s)
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63: the name of a label key, or a
/// label value.
fn qualified_part(s: &str) -> bool {
    let ends_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    s.len() <= 63
        && ends_ok(s.as_bytes().first())
        && ends_ok(s.as_bytes().last())
        && all(s, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// A label key as the API server takes it (`IsQualifiedName`): a name of at most 63
/// letters, digits, `-`, `_` and `.`, starting and ending alphanumeric, after an
/// optional DNS subdomain prefix and `/`.
pub fn label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => dns_subdomain(prefix) && qualified_part(name),
        None => qualified_part(s),
    }
}

/// A label value as the API server takes it (`IsValidLabelValue`): empty, or a name as
/// in [`label_key`].
pub fn label_value(s: &str) -> bool {
    s.is_empty() || qualified_part(s)
}

/// `^[-._a-zA-Z0-9]+$`: a ConfigMap or Secret key.
pub fn config_key(s: &str) -> bool {
    !s.is_empty()
        && all(s, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
        })
}

/// A key of a ConfigMap's or Secret's data as the API server takes it
/// (`IsConfigMapKey`): a [`config_key`] of at most 253 characters, not `.`, and not
/// starting with `..`, which starts the kubelet's own entries in a mounted volume.
pub fn data_key(s: &str) -> bool {
    config_key(s) && s.len() <= 253 && s != "." && !s.starts_with("..")
}

/// `^[A-Za-z0-9][-._A-Za-z0-9]{0,62}$`: a plan name.
pub fn plan_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.as_bytes()[0].is_ascii_alphanumeric() && config_key(s)
}

/// Lowercase labels joined by dots, at least two, the last with a letter:
/// `shop.acme.example`. An IP address (`10.1.2.3`) is no host name: an Ingress refuses
/// it as a host.
pub fn hostname(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| label(l, 63))
        && s.rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_lowercase()))
}

/// A hostname, or `*.` and a hostname.
pub fn domain(s: &str) -> bool {
    hostname(s.strip_prefix("*.").unwrap_or(s))
}

/// A branch, tag or full commit id, as `#REF` of a git URL takes them.
pub fn git_revision(s: &str) -> bool {
    crate::git::revision(s)
}

/// No leading `/`, no NUL, no `..` segment: a path relative to a directory.
pub fn relative_path(s: &str) -> bool {
    !s.starts_with('/') && !s.contains('\0') && !s.split('/').any(|seg| seg == "..")
}

/// A [`relative_path`] without `\`, control characters or a `.git` part in any case:
/// the app's directory in the customer repo (an allocation's `path`). Git keeps its own
/// files under `.git`, which no checkout holds, and a `\` is a separator to some readers
/// and a name's character to others.
pub fn app_path(s: &str) -> bool {
    relative_path(s)
        && !s.contains('\\')
        && !s.contains(char::is_control)
        && !s.split('/').any(|seg| seg.eq_ignore_ascii_case(".git"))
}

/// A relative path as the kubelet joins it to a volume's (Go's `filepath.Join`): without
/// empty and `.` parts, so `./x/` is `x` and `.` is empty.
pub fn cleaned_relative(p: &str) -> String {
    p.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// A leading `/`, no NUL or `:`, no `..` segment: a path inside a container.
pub fn absolute_path(s: &str) -> bool {
    s.starts_with('/') && !s.contains(['\0', ':']) && !s.split('/').any(|seg| seg == "..")
}

/// An [`absolute_path`] other than the root itself (a volume mounted over `/` hides the
/// image, and the container cannot start) and outside `/proc` (runc refuses a mount
/// there, and the container cannot start), written clean: no empty or `.` segment and
/// no trailing `/`. Mounts are compared with one another (dovetail's own, the config
/// files and the static volume, and a fragment's), and two spellings of one place
/// (`/app/conf/x.ini/` is `/app/conf/x.ini` to the runtime) must compare equal.
pub fn clean_mount_path(s: &str) -> bool {
    absolute_path(s)
        && s[1..].split('/').all(|seg| !seg.is_empty() && seg != ".")
        && s != "/proc"
        && !beneath(s, "/proc")
}

/// `^/[!-~]*$`: an HTTP path.
pub fn http_path(s: &str) -> bool {
    s.starts_with('/') && all(s, |b| b.is_ascii_graphic())
}

/// Text without a NUL byte: what a container's program is given (its arguments and
/// environment values). The API server takes a NUL there, and then `execve`, which reads
/// each string up to its first NUL, cannot pass it on: the container does not start.
pub fn exec_text(s: &str) -> bool {
    !s.contains('\0')
}

/// `^[!-~]+$`: printable ASCII without spaces (URLs, image patterns).
pub fn printable(s: &str) -> bool {
    !s.is_empty() && all(s, |b| b.is_ascii_graphic())
}

/// Characters Argo CD reads as a pattern in an AppProject's `sourceRepos` and
/// destination servers: a URL holding one would admit every repo or server it matches.
const GLOB: [char; 8] = ['*', '?', '[', ']', '{', '}', '!', '\\'];

/// A [`printable`] git URL without [`GLOB`] characters: an allocation's `repo`, which the
/// fleet's AppProject admits as its only source. No credentials either (a password, or
/// a user name in an http(s) URL, which GitHub and GitLab take as a token): the URL is
/// written into the fleet's AppProject and Application, which every tenant of the
/// cluster's Argo CD can read, and `--app` refuses them for the same reason.
pub fn repo_url(s: &str) -> bool {
    printable(s) && !s.contains(GLOB) && !carries_credentials(s)
}

/// Whether `s` is a git URL with a password, or a user name in an http(s) URL (which
/// GitHub and GitLab take as a token): one no message may show.
pub fn carries_credentials(s: &str) -> bool {
    use crate::git::{GitSpec, LocationError};
    matches!(
        GitSpec::parse(s),
        Err(LocationError::PasswordInUrl | LocationError::UserInUrl)
    )
}

/// `https://`, a host (a DNS name or an IPv4 address), an optional `:port` and an
/// optional path of printable ASCII: a Kubernetes API server as Argo CD names clusters.
/// No user, query or fragment: Argo CD matches a destination to its cluster Secret by
/// this text, and credentials belong in the Secret. No [`GLOB`] character either, so no
/// IPv6 literal (`[2001:db8::1]`): the fleet's AppProjects admit the server as a
/// pattern, where `[…]` is a character class, and the cluster's apps would never match.
pub fn https_url(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else {
        return false;
    };
    if s.contains(GLOB) {
        return false;
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && all(l, |b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && all(p, |b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    host_ok
        && port_ok
        && all(path, |b| {
            b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'@')
        })
}

/// `^age1[02-9ac-hj-np-z]{58}$` whose bech32 checksum holds: an age X25519 recipient.
/// A mistyped one matched the pattern, passed every check, and failed only when
/// `secrets set` encrypted to it.
pub fn age_recipient(s: &str) -> bool {
    s.len() == 62
        && s.starts_with("age1")
        && all(&s[4..], |b| {
            b"023456789acdefghjklmnpqrstuvwxyz".contains(&b)
        })
        && s.parse::<age::x25519::Recipient>().is_ok()
}

/// `^([0-9]{1,6}m|[0-9]{1,4}(\.[0-9]{1,3})?)$`: CPU as millicores or cores.
pub fn cpu(s: &str) -> bool {
    let digits =
        |t: &str, max: usize| !t.is_empty() && t.len() <= max && all(t, |b| b.is_ascii_digit());
    match s.strip_suffix('m') {
        Some(milli) => digits(milli, 6),
        None => match s.split_once('.') {
            Some((int, frac)) => digits(int, 4) && digits(frac, 3),
            None => digits(s, 4),
        },
    }
}

/// `^[0-9]{1,6}(\.[0-9]{1,3})?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$`: bytes, a whole number of
/// them (the API server warns of `1.5` or `1.001Gi`, and the kubelet rounds), at most
/// [`MAX_BYTES`].
pub fn bytes(s: &str) -> bool {
    let number = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[number.len()..];
    let digits =
        |t: &str, max: usize| !t.is_empty() && t.len() <= max && all(t, |b| b.is_ascii_digit());
    let number_ok = match number.split_once('.') {
        Some((int, frac)) => digits(int, 6) && digits(frac, 3),
        None => digits(number, 6),
    };
    // Quantity keeps thousandths, exact for three decimals: whole bytes are a multiple
    // of 1000 of them.
    number_ok
        && matches!(
            suffix,
            "" | "k" | "M" | "G" | "T" | "P" | "E" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"
        )
        && Quantity::parse(s)
            .is_some_and(|q| q.milli().is_multiple_of(1000) && q.whole() <= MAX_BYTES)
}

/// Whether the `/`-separated path `inner` lies strictly under `outer` (`a/b` under `a`,
/// not `ab`): a mount inside a file's mount, a volume item inside another's, a ref
/// inside another ref's name.
pub fn beneath(inner: &str, outer: &str) -> bool {
    inner
        .strip_prefix(outer)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// A character the API server's server-side apply refuses in any string: kubectl and
/// Argo CD send it raw in JSON (Go escapes only C0 controls), and the apply patch is
/// read with a YAML parser that allows none of these. Client-side apply takes them, so
/// a sync half-succeeds.
pub fn unappliable(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
}

/// [`bytes`] of at least [`MIN_MEMORY`]: a container's memory. Below it the container
/// cannot start (runc's own start-up runs in the container's cgroup), and a bare `512`
/// is far likelier a missing unit than 512 bytes.
pub fn memory(s: &str) -> bool {
    bytes(s) && Quantity::parse(s).is_some_and(|q| q.whole() >= MIN_MEMORY)
}

/// The least memory a container is given, 6 MiB: Docker's floor for the same reason.
pub const MIN_MEMORY: u128 = 6 << 20;

/// The largest size dovetail takes, 1 EiB: the API server keeps quantities in 64 bits
/// (8 EiB), and a pod's containers, or a quota's processes, are sums of sizes.
pub const MAX_BYTES: u128 = 1 << 60;

/// `^[0-9]+(m|k|M|G|Ki|Mi|Gi)?$`-like: a resource divisor, CPU or bytes.
pub fn divisor(s: &str) -> bool {
    cpu(s) || bytes(s)
}

/// An [`image`] with a digest, or a tag other than `latest`: the platform's helper
/// images, which every app runs (`redis` or `redis:latest` would be whatever `latest`
/// is at each pull).
pub fn pinned_image(s: &str) -> bool {
    let last = s.rsplit('/').next().unwrap_or(s);
    image(s)
        && (last.contains('@')
            || last
                .rsplit_once(':')
                .is_some_and(|(_, tag)| tag != "latest"))
}

/// An image reference: `[host[:port]/]path[:tag][@sha256:<64 hex>]`, with path
/// components `[a-z0-9]+([._-]+[a-z0-9]+)*`.
pub fn image(s: &str) -> bool {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !all(hex, |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return false;
        }
    }
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && (t.as_bytes()[0].is_ascii_alphanumeric() || t.starts_with('_'))
            && all(t, |b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
            });
        if !ok {
            return false;
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let host = parts[0];
        let looks_like_host = host.contains(['.', ':']) || host == "localhost";
        if looks_like_host {
            let (h, port) = host.split_once(':').unwrap_or((host, ""));
            // Each label alphanumeric at both ends, as the reference grammar's
            // domain components are.
            let host_ok = h.split('.').all(|label| {
                let l = label.as_bytes();
                !l.is_empty()
                    && l[0].is_ascii_alphanumeric()
                    && l[l.len() - 1].is_ascii_alphanumeric()
                    && all(label, |b| b.is_ascii_alphanumeric() || b == b'-')
            });
            if !host_ok
                || (host.contains(':') && (port.is_empty() || !all(port, |b| b.is_ascii_digit())))
            {
                return false;
            }
            parts.remove(0);
        }
    }
    !parts.is_empty() && parts.iter().all(|p| path_component(p))
}

/// `[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*`: the distribution reference grammar's path
/// component. A looser separator (`a.-b`, `a___b`) passes the API server and fails the
/// container runtime's parse, as `InvalidImageName` at each pull.
fn path_component(p: &str) -> bool {
    let b = p.as_bytes();
    !b.is_empty()
        && lower_alnum(b[0])
        && lower_alnum(b[b.len() - 1])
        && p.split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.bytes().all(|c| c == b'-'))
}

/// `^s3://[a-z0-9][-.a-z0-9]{1,62}(/[!-~]*)?$` without `..` segments: an S3 bucket and
/// prefix, as Barman Cloud's `destinationPath` takes it.
pub fn object_store_path(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("s3://") else {
        return false;
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (3..=63).contains(&bucket.len())
        && all(bucket, |b| lower_alnum(b) || matches!(b, b'-' | b'.'))
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && all(prefix, |b| b.is_ascii_graphic())
        && !prefix.split('/').any(|seg| seg == "..")
}

/// `^https?://[!-~]+$` with a host and no user: an HTTP(S) endpoint. A port, when
/// given, is one a connection can use (1 to 65535): the egress rule made from it is
/// refused by the API server otherwise.
pub fn http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let authority = r.split(['/', '?', '#']).next().unwrap_or_default();
        let port_ok = match authority.rsplit_once(':') {
            // `[::1]` holds colons of its own; its port follows the bracket.
            Some((host, port)) if !port.contains(']') => {
                !host.is_empty()
                    && !port.is_empty()
                    && port.len() <= 5
                    && all(port, |b| b.is_ascii_digit())
                    && port.parse::<u16>().is_ok_and(|p| p > 0)
            }
            _ => true,
        };
        !authority.is_empty() && !authority.contains('@') && port_ok && printable(r)
    })
}

/// A schedule as CloudNativePG's ScheduledBackup takes it (robfig/cron's parser): six
/// cron fields, seconds first (`0 0 3 * * *`), separated by any whitespace, each a list
/// of `*`, `?`, a value or a range `a-b`, optionally `/step`, within the field's range
/// (months and weekdays by name too); or a descriptor (`@daily`, `@every 6h`). robfig's
/// `TZ=` prefix is refused: the schedule runs in the operator's time zone.
pub fn cron(s: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    if let Some(every) = s.strip_prefix("@every ") {
        return go_duration(every);
    }
    if s.starts_with('@') {
        return matches!(
            s,
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight" | "@hourly"
        );
    }
    // robfig splits with Go's strings.Fields, whose whitespace is Unicode's, as Rust's.
    let fields: Vec<&str> = s.split_whitespace().collect();
    let bounds: [(u32, u32, &[&str]); 6] = [
        (0, 59, &[]),
        (0, 59, &[]),
        (0, 23, &[]),
        (1, 31, &[]),
        (1, 12, &MONTHS),
        (0, 6, &DAYS),
    ];
    fields.len() == 6
        && fields
            .iter()
            .zip(bounds)
            .all(|(f, (min, max, names))| cron_field(f, min, max, names))
}

/// One cron field: comma-separated ranges, each within `min..=max`.
fn cron_field(field: &str, min: u32, max: u32, names: &[&str]) -> bool {
    // A value is a number or, where the field has them, a name (from `min` on).
    let value = |v: &str| -> Option<u32> {
        if let Some(n) = go_atoi(v) {
            return Some(n).filter(|n| (min..=max).contains(n));
        }
        let lower = v.to_ascii_lowercase();
        (min..)
            .zip(names)
            .find(|(_, n)| **n == lower)
            .map(|(i, _)| i)
    };
    // robfig drops empty list items (`1,,2`); a field with none would never fire, so it
    // is refused although robfig takes it.
    let mut ranges = field.split(',').filter(|r| !r.is_empty()).peekable();
    ranges.peek().is_some()
        && ranges.all(|range| {
            // `a/step` runs from a to the field's end, `a-b/step` from a to b.
            let span = match range.split_once('/') {
                Some((span, step)) if go_atoi(step).is_some_and(|n| n > 0) => span,
                Some(_) => return false,
                None => range,
            };
            match span {
                "*" | "?" => true,
                _ => match span.split_once('-') {
                    Some((a, b)) => matches!((value(a), value(b)), (Some(a), Some(b)) if a <= b),
                    None => value(span).is_some(),
                },
            }
        })
}

/// A number as Go's `strconv.Atoi` reads it for robfig (digits, optionally after a `+`);
/// `None` past `u32`, which is beyond every cron field anyway.
fn go_atoi(v: &str) -> Option<u32> {
    let digits = v.strip_prefix('+').unwrap_or(v);
    (!digits.is_empty() && all(digits, |b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// A duration as Go's `time.ParseDuration` takes it, unsigned: numbers with an optional
/// fraction, each with a unit (`6h`, `1h30m`, `1.5h`, `90s`), from one second (robfig
/// runs anything shorter every second) to Go's limit of about 292 years (past it,
/// the parse overflows and CloudNativePG's webhook refuses the schedule).
fn go_duration(s: &str) -> bool {
    const NANOS_PER_SECOND: u128 = 1_000_000_000;
    // Go takes one leading sign; a negative duration is under a second anyway. Nothing
    // after it is no time at all, and refused below with everything under a second.
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let number = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (n, after) = rest.split_at(number);
        let (int, frac) = n.split_once('.').unwrap_or((n, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return false;
        }
        let int = int.trim_start_matches('0');
        if int.len() > 20 {
            return false;
        }
        // Go's unit runs to the next digit or `.`, so `1h 30m` has the unit `h `.
        let unit_len = after
            .bytes()
            .take_while(|b| !b.is_ascii_digit() && *b != b'.')
            .count();
        let unit: u128 = match &after[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            _ => return false,
        };
        // Go keeps up to nanoseconds of a fraction; the rest cannot matter here.
        let frac: String = frac.chars().take(9).collect();
        let scale = 10u128.pow(u32::try_from(frac.len()).unwrap_or(0));
        let whole = int.parse::<u128>().unwrap_or(0) * unit;
        let part = frac.parse::<u128>().unwrap_or(0) * unit / scale;
        nanos = nanos.saturating_add(whole).saturating_add(part);
        rest = &after[unit_len..];
    }
    nanos >= NANOS_PER_SECOND && nanos <= i64::MAX as u128
}

/// `^[1-9][0-9]*[dwm]$`: how long backups are kept (days, weeks, months).
pub fn retention(s: &str) -> bool {
    let Some(n) = s.strip_suffix(['d', 'w', 'm']) else {
        return false;
    };
    !n.is_empty() && !n.starts_with('0') && all(n, |b| b.is_ascii_digit())
}

/// An RFC 3339 date and time with its offset: `2026-11-30T06:00:00Z`,
/// `2026-11-30T07:00:00.5+01:00`.
pub fn timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, to: usize, max: u32| {
        s.get(from..to)
            .filter(|d| all(d, |c| c.is_ascii_digit()))
            .and_then(|d| d.parse::<u32>().ok())
            .is_some_and(|v| v <= max)
    };
    let date_time = b.len() >= 20
        && digits(0, 4, 9999)
        && b[4] == b'-'
        && digits(5, 7, 12)
        && s[5..7] != *"00"
        && b[7] == b'-'
        && digits(8, 10, 31)
        && s[8..10] != *"00"
        && b[10] == b'T'
        && digits(11, 13, 23)
        && b[13] == b':'
        && digits(14, 16, 59)
        && b[16] == b':'
        && digits(17, 19, 59);
    // A day the month has: Go's time.Parse, which CloudNativePG reads a target time
    // with, refuses February 30th and a leap second alike.
    if !date_time || s[8..10].parse::<u32>().unwrap_or(0) > days_in_month(&s[0..4], &s[5..7]) {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && digits(s.len() - 5, s.len() - 3, 23)
            && rest.as_bytes()[3] == b':'
            && digits(s.len() - 2, s.len(), 59))
}

/// Days in month `mm` of year `yyyy` (both digits), by the Gregorian calendar.
fn days_in_month(yyyy: &str, mm: &str) -> u32 {
    let year: u32 = yyyy.parse().unwrap_or(0);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match mm {
        "02" if leap => 29,
        "02" => 28,
        "04" | "06" | "09" | "11" => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_formats() {
        assert!(object_store_path("s3://backups"));
        assert!(object_store_path("s3://acme-backups.eu/postgres/"));
        assert!(!object_store_path("s3://"));
        assert!(!object_store_path("gs://bucket/x"));
        assert!(!object_store_path("s3://bucket/../other"));
        assert!(!object_store_path("s3://Bucket/x"));
        assert!(http_url("https://s3.example.com"));
        assert!(http_url("http://minio.storage.svc:9000"));
        assert!(!http_url("https://user@s3.example.com"));
        assert!(!http_url("ftp://s3.example.com"));
        assert!(!http_url("https://"));
        for ok in [
            "0 0 3 * * *",
            "0 */15 * * * *",
            "@daily",
            "@every 6h",
            "@every 1h30m",
            "@every 1.5h",
            "@every 1s",
            "@every 2562047h",
            "0 0 3 * * 0",
            "0 0 3 ? * SUN",
            "0 0 3 1-15 jan-MAR mon-fri",
            "0,30 5/10 1-23/2 31 12 6",
            // robfig takes any whitespace between fields, empty list items and Go's
            // spellings of numbers and durations; refusing them was needless.
            "0 0  3 * * *",
            " 0\t0 3 * * *\n",
            "0,,30 0 3 * * *",
            "+0 0 3 * */+2 *",
            "@every 1000000\u{b5}s",
            "@every 1000000\u{3bc}s",
            "@every +6h",
            "@every 006h",
            "@every .5m",
        ] {
            assert!(cron(ok), "{ok}");
        }
        for bad in [
            "0 3 * * *",
            "",
            "@often",
            "0 0 3 * * * *",
            "0 0 3 , * *",
            "TZ=UTC 0 0 3 * * *",
            "@daily ",
            "@every 1h 30m",
            "@every -6h",
            "@every +",
        ] {
            assert!(!cron(bad), "{bad}");
        }
        // Regression: only characters and the count of fields were checked, and
        // CloudNativePG's webhook (robfig/cron) refused these.
        for bad in [
            "0 0 3 * * 7",
            "0 0 25 * * *",
            "99 99 99 * * *",
            "x y z a b c",
            "@every 6",
            "@every abc",
            "@every ",
            "@every 0",
            "@every 1ms",
            "@every 99999999999h",
            "0 0 3 0 * *",
            "0 0 3 * 13 *",
            "0 0 5-3 * * *",
            "0 */0 * * * *",
            "0 0 3 * * sunday",
            "60 0 3 * * *",
        ] {
            assert!(!cron(bad), "{bad}");
        }
        // Regression: `memory: "512"` (a unit forgotten) was taken as 512 bytes, and
        // every pod of the process failed to start.
        for ok in ["6Mi", "512Mi", "2Gi", "7M", "1024Pi"] {
            assert!(memory(ok), "{ok}");
        }
        for bad in ["512", "0", "5Mi", "999999", "6M", "1.5"] {
            assert!(!memory(bad), "{bad}");
        }
        let recipient = age::x25519::Identity::generate().to_public().to_string();
        assert!(age_recipient(&recipient));
        // One character changed: the pattern still matches, the checksum does not.
        let last = if recipient.ends_with('q') { "p" } else { "q" };
        let typo = format!("{}{last}", &recipient[..61]);
        assert!(!age_recipient(&typo), "{typo}");
        for ok in ["30d", "4w", "6m", "365d"] {
            assert!(retention(ok), "{ok}");
        }
        for bad in ["0d", "30", "d", "30y", "030d", "-1d"] {
            assert!(!retention(bad), "{bad}");
        }
        for ok in [
            "2026-11-30T06:00:00Z",
            "2026-11-30T07:00:00.5+01:00",
            "2026-02-01T23:59:59.123456-05:30",
        ] {
            assert!(timestamp(ok), "{ok}");
        }
        for bad in [
            "2026-11-30",
            "2026-11-30 06:00:00Z",
            "2026-13-30T06:00:00Z",
            "2026-11-30T06:00:00",
            "2026-11-30T06:00:00.Z",
            "2026-11-30T06:00:00+1:00",
            "2026-00-10T06:00:00Z",
            // Regression: days the month lacks, and a leap second, which CloudNativePG's
            // webhook refuses.
            "2026-02-29T06:00:00Z",
            "2026-02-31T06:00:00Z",
            "2026-04-31T06:00:00+01:00",
            "2100-02-29T06:00:00Z",
            "2026-11-30T23:59:60Z",
        ] {
            assert!(!timestamp(bad), "{bad}");
        }
        for ok in [
            "2028-02-29T06:00:00Z",
            "2000-02-29T06:00:00Z",
            "2026-12-31T23:59:59Z",
        ] {
            assert!(timestamp(ok), "{ok}");
        }
    }

    /// Regression: the platform's helper images were taken without a tag or digest.
    #[test]
    fn helper_images_are_pinned() {
        for ok in [
            "docker.io/library/redis:7.4.1",
            "localhost:5000/redis:7",
            "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(pinned_image(ok), "{ok}");
        }
        for bad in [
            "redis",
            "localhost:5000/redis",
            "docker.io/library/postgres",
            "redis:latest",
        ] {
            assert!(image(bad) && !pinned_image(bad), "{bad}");
        }
    }

    #[test]
    fn app_paths() {
        for ok in ["", ".", "apps/shop", "./shop", "a.git/b", "x/.github"] {
            assert!(app_path(ok), "{ok}");
        }
        // Regression: validate --operator took these, and no checkout has them.
        for bad in [".git", "a/.GIT/b", "a\\b", "a\u{8}b", "/abs", "a/../b"] {
            assert!(!app_path(bad), "{bad}");
        }
    }

    #[test]
    fn images() {
        for ok in [
            "registry.example.com/acme/shop:1.4.2",
            "localhost:5000/app:v1",
            "nginx:1.27",
            "docker.io/library/redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/a/b-c_d.e:tag@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "acme/shop",
            "a__b/c---d.e_f:1",
        ] {
            assert!(image(ok), "{ok}");
        }
        for bad in [
            "",
            "UPPER/case:1",
            "a//b:1",
            "a/b:",
            "a/b:-x",
            "a/b@sha256:zz",
            "host:port/x:1",
            "-a/b:1",
            "a b:1",
            // Regression: separators outside the reference grammar, which the runtime
            // refuses as InvalidImageName.
            "registry.example.com/a.-b/x:1",
            "a._b",
            "a-.b",
            "a_-b",
            "a___b",
            "a..b",
            "a/b.-c:1",
            "reg-.example.com/a:1",
            "reg..example.com/a:1",
        ] {
            assert!(!image(bad), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        for ok in ["250m", "1", "0.5", "1024"] {
            assert!(cpu(ok), "{ok}");
        }
        for bad in ["-1", "1.", ".5", "1e3", "1Gi", "", "m", "12345"] {
            assert!(!cpu(bad), "{bad}");
        }
        for ok in [
            "512Mi", "2Gi", "1.5G", "100", "5Ti", "1.5Ki", "0.001k", "1024Pi",
        ] {
            assert!(bytes(ok), "{ok}");
        }
        for bad in ["-1Gi", "12XB", "lots", "Gi", "1.Gi", "1e3", ".5Gi"] {
            assert!(!bytes(bad), "{bad}");
        }
        // Regression: a fraction of a byte (the API server warns, the kubelet rounds)
        // and sizes past what the API server's 64 bits hold were taken.
        for bad in [
            "1.5",
            "0.001",
            "1.001Gi",
            "1.001Ki",
            "1025Pi",
            "999999Pi",
            "999999.999P",
        ] {
            assert!(!bytes(bad), "{bad}");
        }
    }

    #[test]
    fn names_paths_and_hosts() {
        assert!(process_name("web") && !process_name("9web") && !process_name("Bad_Name"));
        assert!(process_name("a23456789012345678bc") && !process_name("a23456789012345678bcd"));
        assert!(env_name("_A1") && !env_name("1A") && !env_name("A-B"));
        assert!(
            relative_path("config/a.ini")
                && !relative_path("../x")
                && !relative_path("/x")
                && !relative_path("a/../b")
        );
        assert!(relative_path("a..b/c"));
        assert!(
            absolute_path("/app/static")
                && !absolute_path("app")
                && !absolute_path("/a/../b")
                && !absolute_path("/a:b")
                && absolute_path("/")
        );
        // Regression: port 0 passed, and the egress rule made from it was refused as
        // "a bug in dovetail".
        assert!(
            http_url("http://10.20.0.15:9000")
                && http_url("https://s3.example.com")
                && http_url("http://[fd00::1]:9000/x")
                && !http_url("http://10.20.0.15:0")
                && !http_url("http://10.20.0.15:65536")
                && !http_url("http://10.20.0.15:")
                && !http_url("http://:80")
        );
        // Regression: `1Ei` was refused by a message saying "at most 1Ei".
        assert!(bytes("1Ei") && bytes("1024Pi") && bytes("1E") && !bytes("2Ei") && !bytes("1.5Ei"));
        // Regression: spellings of one place the clash checks compared as different.
        for unclean in [
            "/app/static/",
            "/app//static",
            "/app/./static",
            "/./app",
            "/tmp/.",
        ] {
            assert!(
                absolute_path(unclean) && !clean_mount_path(unclean),
                "{unclean}"
            );
        }
        assert!(
            clean_mount_path("/app/static") && !clean_mount_path("/") && !clean_mount_path("//./")
        );
        assert!(
            hostname("shop.acme.example")
                && hostname("1.2.3.example")
                && !hostname("10.1.2.3")
                && !hostname("010.1.2.3")
                && !domain("*.0.0.10")
                && !hostname("localhost")
                && !hostname("Shop.example.com")
        );
        assert!(domain("*.acme.example") && !domain("*.*.acme.example"));
        assert!(age_recipient(
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
        ));
        assert!(!age_recipient(
            "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8b"
        ));
        assert!(dns_subdomain("ceph-rbd") && dns_subdomain("a.b") && !dns_subdomain("a..b"));
    }

    /// Label keys and values as the API server's `ValidateLabels` takes them: a
    /// selector the API server refuses makes the whole NetworkPolicy unappliable.
    #[test]
    fn label_keys_and_values() {
        for ok in ["k8s-app", "app.kubernetes.io/name", "A_b.c", "x"] {
            assert!(label_key(ok), "{ok}");
        }
        for bad in [
            "",
            "k8s app",
            "a/b/c",
            "-a",
            "a-",
            "/a",
            "a/",
            "Bad_Prefix/a",
            &"a".repeat(64),
        ] {
            assert!(!label_key(bad), "{bad}");
        }
        for ok in ["", "kube-dns", "v1.2_3", &"a".repeat(63)] {
            assert!(label_value(ok), "{ok}");
        }
        for bad in ["kube-dns-", "kube.dns/x", " a", &"a".repeat(64)] {
            assert!(!label_value(bad), "{bad}");
        }
    }

    /// Argo CD reads these as patterns in an AppProject: a repo or server holding one
    /// would admit every repo or cluster it matches.
    #[test]
    fn urls_hold_no_glob_characters() {
        assert!(repo_url("https://git.example.com/acme/shop.git"));
        assert!(repo_url("git@git.example.com:acme/shop.git"));
        for bad in [
            "*",
            "https://git.example.com/acme/*",
            "[a-z]*",
            "{a,b}",
            "!x",
            "a\\b",
        ] {
            assert!(!repo_url(bad), "{bad}");
        }
        assert!(!https_url("https://eu-2.example.net/*"));
        assert!(!https_url("https://eu-2.example.net/{a,b}"));
    }

    #[test]
    fn api_server_urls() {
        for ok in [
            "https://eu-2.example.net:6443",
            "https://kubernetes.default.svc",
            "https://192.0.2.10",
            "https://rancher.example.com/k8s/clusters/c-m-abc12",
            "https://EU-2.Example.net",
        ] {
            assert!(https_url(ok), "{ok}");
        }
        for bad in [
            "",
            "http://eu-2.example.net",
            "https://",
            "https://:6443",
            "https://eu-2.example.net:",
            "https://eu-2.example.net:0",
            "https://eu-2.example.net:65536",
            "https://eu-2.example.net:64x3",
            "https://admin:pw@eu-2.example.net",
            "https://eu-2..example.net",
            "https://-eu.example.net",
            "https://eu-2.example.net/a b",
            "https://eu-2.example.net/?x=1",
            "https://eu-2.example.net/#x",
            "https://[2001:db8::zz]",
            "https://[2001:db8::1]x",
            "https://[2001:db8::1]:6443",
            "https://eu_2.example.net",
        ] {
            assert!(!https_url(bad), "{bad}");
        }
    }
}
