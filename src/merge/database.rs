//! The database: who provides it, its size, and — for CloudNativePG — its backups to the
//! platform's object store and a restore from them.
//!
//! Backups go through CloudNativePG's Barman Cloud plugin, not the Cluster's in-tree
//! `backup.barmanObjectStore`: the in-tree method is deprecated since CloudNativePG 1.26
//! and gone from 1.32, so a platform built on it would have to migrate every tenant's
//! database on an operator upgrade.
//!
//! Each app archives to `<destinationPath>/<tenant>/<app>/generation-<N>/`. A restore
//! reads generation N-1 and the restored database archives to N, which nothing has
//! written yet: CloudNativePG refuses to archive into a folder that holds another
//! database's history, and the damaged database's last changes never mix with the
//! restored one's.

use super::resolved::{ResolvedBackup, ResolvedDatabase, ResolvedEgress, ResolvedRestore};
use super::{Ctx, Problem};
use crate::diag::{Code, Diagnostics, Doc, Dropped};
use crate::input::model::{
    Allocation, Backup, DatabaseAllocation, DatabaseProvider, Platform, RestoreSource, Service,
};
use crate::input::yaml::Path;

/// The folder of one backup generation inside the app's prefix.
pub fn server_name(generation: u32) -> String {
    format!("generation-{generation}")
}

/// The platform's backups as they apply to an allocation: none when the platform has
/// none, the database is not CloudNativePG's, or the allocation opts out.
pub fn backup_for<'p>(platform: &'p Platform, a: &Allocation) -> Option<&'p Backup> {
    let db = platform.database.as_ref()?;
    let given = a.storage.database.as_ref()?;
    (db.provider == DatabaseProvider::Cnpg && given.backup != Some(false))
        .then_some(db.backup.as_ref())
        .flatten()
}

/// Why an allocation's `restore` cannot run, from the operator repo alone (so that
/// `validate --operator` refuses it before any app is rendered). With the platform's
/// `database` in error (`platform_dropped`), only the allocation's own problems: what
/// the platform would say is unknown. A field of the allocation in error
/// (`alloc_dropped`, at a dotted path) is not blamed for its absence.
pub fn restore_problems(
    platform: &Platform,
    a: &Allocation,
    platform_dropped: bool,
    alloc_dropped: &dyn Fn(&str) -> bool,
) -> Vec<Problem> {
    let Some(restore) = &a.restore else {
        return Vec::new();
    };
    let at = Path::root().key("restore").key("database");
    let problem = |path: Path, message: String, hint: &str| {
        Problem::new(Code::RestoreImpossible, path, message, hint)
    };
    let RestoreSource::Backup = restore.database.from;
    let db = if platform_dropped {
        None
    } else {
        let Some(db) = &platform.database else {
            return vec![problem(
                at.key("from"),
                "the restore reads the app's database backups, and platform.yaml sets no `database:`"
                    .to_owned(),
                "remove `restore`, or configure CloudNativePG databases with `database.backup`",
            )];
        };
        if db.provider != DatabaseProvider::Cnpg {
            return vec![problem(
                at.key("from"),
                "the restore bootstraps a CloudNativePG database, and the platform's databases are external".to_owned(),
                "restore the external database with its provider's tools, and remove `restore`",
            )];
        }
        Some(db)
    };
    let Some(given) = &a.storage.database else {
        if alloc_dropped("storage.database") {
            return Vec::new();
        }
        return vec![problem(
            at.key("from"),
            "the restore needs the app's database, and the allocation gives no `storage.database`"
                .to_owned(),
            "give storage.database.size, or remove `restore`",
        )];
    };
    let mut out = Vec::new();
    if db.is_some_and(|db| db.backup.is_none()) {
        out.push(problem(
            at.key("from"),
            "the restore reads the app's backups, and platform.yaml configures none (`database.backup`)".to_owned(),
            "configure database.backup in platform.yaml, or remove `restore`",
        ));
    } else if given.backup == Some(false) {
        out.push(problem(
            at.key("from"),
            "the restore reads the app's backups, and the allocation opts out of them (`storage.database.backup: false`)".to_owned(),
            "remove `restore`: there are no backups of this app to read",
        ));
    }
    if given.generation() < 2 && !alloc_dropped("storage.database.generation") {
        out.push(problem(
            Path::root().key("storage").key("database").key("generation"),
            format!(
                "the restored database archives to a new backup generation, and generation {} has no generation before it to restore from",
                given.generation()
            ),
            &format!(
                "raise storage.database.generation to {} in the same change (the restore reads generation {})",
                given.generation() + 1,
                given.generation()
            ),
        ));
    }
    out
}

/// The restore checks of [`restore_problems`] as diagnostics of the allocation file,
/// whose fields in error are `alloc_dropped`.
pub fn check_restore(
    platform: &Platform,
    platform_dropped: bool,
    a: &Allocation,
    doc: &Doc,
    alloc_dropped: &Dropped,
    diags: &mut Diagnostics,
) {
    let dropped = |dotted: &str| alloc_dropped.covers(&Path::parse(dotted));
    for p in restore_problems(platform, a, platform_dropped, &dropped) {
        diags.push(p.of(doc));
    }
}

pub(super) fn resolve_database(cx: &mut Ctx<'_>) -> Option<ResolvedDatabase> {
    let platform = cx.inputs.platform;
    let alloc = cx.inputs.allocation;
    if !cx.inputs.app.app.services.contains(&Service::Postgres) {
        // A `services` list in error is left out: whether it names postgres is unknown.
        if alloc.restore.is_some() && !cx.app_dropped(&Path::root().key("services")) {
            cx.alloc_err(
                Code::RestoreImpossible,
                &Path::root().key("restore"),
                "the allocation restores a database, and the app uses none (`services: [postgres]`)",
                "remove `restore`",
            );
        }
        return None;
    }
    let services = Path::root().key("services");
    let Some(db) = platform.database.clone() else {
        if cx.platform_dropped("database") {
            return None;
        }
        let file = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            Code::PlatformSettingMissing,
            &services,
            format!("the app needs postgres, and {file} sets no `database:` provider"),
            "ask the operator to configure databases",
        );
        return None;
    };
    let size = match (db.provider, &alloc.storage.database) {
        (DatabaseProvider::Cnpg, None) => {
            if cx.alloc_dropped("storage.database") {
                return None;
            }
            let file = cx.alloc_file().to_owned();
            cx.app_err(
                Code::NotAllocated,
                &services,
                format!("the app needs postgres, and {file} gives no `storage.database`"),
                &format!("ask the operator to add storage.database.size to {file}"),
            );
            return None;
        }
        (_, d) => d.as_ref().map(|d| d.size.clone()),
    };
    let at = Path::parse("storage.database.size");
    cx.push_alloc(
        size.as_deref()
            .and_then(|s| super::sizes::zero_size(s, &at)),
    );
    let alloc_dropped = |dotted: &str| cx.alloc_dropped(dotted);
    let problems = restore_problems(
        platform,
        alloc,
        cx.platform_dropped("database"),
        &alloc_dropped,
    );
    let restorable = problems.is_empty();
    cx.push_alloc(problems);
    let generation = alloc
        .storage
        .database
        .as_ref()
        .map_or(1, DatabaseAllocation::generation);
    let restore = alloc
        .restore
        .as_ref()
        .filter(|_| restorable)
        .map(|r| ResolvedRestore {
            server_name: server_name(generation - 1),
            point_in_time: r.database.point_in_time.clone(),
        });
    let backup = backup_for(platform, alloc).map(|b| ResolvedBackup {
        destination_path: format!(
            "{}/{}/{}",
            b.destination_path.trim_end_matches('/'),
            cx.inputs.identity.tenant,
            cx.inputs.identity.app
        ),
        endpoint_url: b.endpoint_url.clone(),
        credentials_secret: b.credentials_secret.clone(),
        schedule: b.schedule.clone(),
        retention: b.retention.clone(),
        server_name: server_name(generation),
        archiving: restore.is_none(),
        sidecar_resources: platform.sidecar_resources(),
        egress: {
            let (egress, problems) = store_egress(platform, b);
            cx.push_platform(problems);
            egress
        },
    });
    Some(ResolvedDatabase {
        provider: db.provider,
        size,
        instances: db.instances.unwrap_or(1),
        resources: platform.database_resources(),
        storage_class: platform.storage.block.clone(),
        backup,
        restore,
    })
}

/// Where the database's pods may reach the object store: the blocks `database.backup.egress`
/// names, else anywhere but the metadata service and the cluster's own ranges, on the
/// store's port only.
pub fn store_egress(platform: &Platform, b: &Backup) -> (Vec<ResolvedEgress>, Vec<Problem>) {
    let port = store_port(b.endpoint_url.as_deref());
    let at = Path::root().key("database").key("backup").key("egress");
    let (egress, problems) = super::network::pinned_or_anywhere(
        platform,
        &b.egress,
        &at,
        "name the object store's own addresses",
    );
    let egress: Vec<ResolvedEgress> = egress
        .into_iter()
        .map(|mut e| {
            e.ports = vec![port];
            e
        })
        .collect();
    let mut problems = problems;
    // An endpoint written as an address can be checked against the rules: outside them,
    // the database's NetworkPolicy blocks WAL archiving and every base backup, and
    // nothing says so until a restore finds no backups.
    if let Some(ip) = b.endpoint_url.as_deref().and_then(store_address) {
        let single =
            crate::cidr::Cidr::parse(&format!("{ip}/{}", if ip.is_ipv4() { 32 } else { 128 }));
        let within = |block: &str| {
            crate::cidr::Cidr::parse(block)
                .zip(single.as_ref())
                .is_some_and(|(b, s)| b.contains(s))
        };
        let reached = egress
            .iter()
            .any(|e| within(&e.cidr) && !e.except.iter().any(|x| within(x)));
        if !reached {
            let (why, hint) = if b.egress.is_empty() {
                (
                    "lies in the metadata service's or the cluster's own ranges (`network.clusterCIDRs`), which no egress rule reaches",
                    "serve the object store from outside those ranges",
                )
            } else {
                (
                    "is outside `database.backup.egress` (less the metadata service's and the cluster's own ranges)",
                    "add the object store's block to `database.backup.egress`, or fix the URL",
                )
            };
            problems.push(Problem::new(
                Code::EgressRule,
                Path::root().key("database").key("backup").key("endpointURL"),
                format!("the object store's address {ip} {why}: the database's NetworkPolicy would block WAL archiving and base backups"),
                hint,
            ));
        }
    }
    (egress, problems)
}

/// The endpoint's scheme (`https` when it names none) and its host with the port, if
/// any, without a user.
fn store_authority(url: &str) -> (&str, &str) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (scheme, host_port)
}

/// The object store's address, when its endpoint names it by one (`http://10.0.0.5:9000`,
/// `https://[2001:db8::1]/`) rather than by a hostname.
fn store_address(url: &str) -> Option<std::net::IpAddr> {
    let (_, host_port) = store_authority(url);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split_once(']')?.0.parse().ok();
    }
    host_port.split(':').next()?.parse().ok()
}

/// The object store's TCP port: the endpoint's own, else its scheme's (AWS S3 without
/// an endpoint is HTTPS).
pub fn store_port(endpoint: Option<&str>) -> u16 {
    let Some(url) = endpoint else {
        return 443;
    };
    let (scheme, host_port) = store_authority(url);
    // The port follows the last colon, unless that colon is inside an IPv6 literal.
    let port = host_port
        .rsplit_once(':')
        .filter(|(_, p)| !p.contains(']'))
        .and_then(|(_, p)| p.parse::<u16>().ok());
    port.unwrap_or(if scheme.eq_ignore_ascii_case("http") {
        80
    } else {
        443
    })
}

#[cfg(test)]
mod tests {
    use super::store_port;

    #[test]
    fn the_store_address_is_read_only_from_an_address() {
        use super::store_address;
        assert_eq!(
            store_address("http://10.0.0.5:9000/x"),
            "10.0.0.5".parse().ok()
        );
        assert_eq!(
            store_address("https://[2001:db8::1]:8443/"),
            "2001:db8::1".parse().ok()
        );
        assert_eq!(store_address("https://s3.example.net"), None);
        assert_eq!(store_address("http://minio.storage:9000"), None);
    }

    #[test]
    fn the_store_port_comes_from_the_endpoint_or_its_scheme() {
        assert_eq!(store_port(None), 443);
        assert_eq!(store_port(Some("https://s3.example.net")), 443);
        assert_eq!(store_port(Some("http://minio.storage:9000/")), 9000);
        assert_eq!(store_port(Some("http://minio.storage")), 80);
        assert_eq!(store_port(Some("https://[2001:db8::1]/x")), 443);
        assert_eq!(store_port(Some("https://[2001:db8::1]:8443/x")), 8443);
    }
}
