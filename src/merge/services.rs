//! Redis and the Ingress the app asks for, within what the allocation and the platform
//! give, and the services processes wait for.

use super::Ctx;
use super::resolved::{ResolvedIngress, ResolvedRedis, ResolvedRedisPersistence};
use crate::diag::Code;
use crate::input::model::Service;
use crate::input::yaml::{NodeKind, Path};
use crate::quantity::Quantity;

pub(super) fn resolve_redis(cx: &mut Ctx<'_>) -> Option<ResolvedRedis> {
    if !cx.inputs.app.app.services.contains(&Service::Redis) {
        return None;
    }
    let services = Path::root().key("services");
    let Some(given) = cx.inputs.allocation.redis.clone() else {
        if cx.alloc_dropped("redis") {
            return None;
        }
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            Code::NotAllocated,
            &services,
            format!("the app needs redis, and {file} gives no `redis.memory`"),
            &format!("ask the operator to add redis.memory to {file}"),
        );
        return None;
    };
    // The allocation's sizes are its own problems, whatever the platform's image.
    cx.push_alloc(super::sizes::redis_problems(&given));
    let Some(image) = cx.inputs.platform.images.redis.clone() else {
        if cx.platform_dropped("images.redis") {
            return None;
        }
        cx.platform_err(
            Code::PlatformSettingMissing,
            &Path::root().key("images"),
            "an app needs redis, and no `images.redis` is set",
            "pin a Redis image under images.redis",
        );
        return None;
    };
    let bytes = Quantity::parse(&given.memory).map_or(0, Quantity::whole);
    let persistence = given.persistence.as_ref().map(|p| {
        // Without a block class, the cluster's default class (ReadWriteOnce).
        ResolvedRedisPersistence {
            size: p.size.clone(),
            storage_class: cx.inputs.platform.storage.block.clone(),
        }
    });
    Some(ResolvedRedis {
        image,
        persistence,
        memory: given.memory,
        // 80% of the limit: Redis needs headroom for buffers and fragmentation.
        maxmemory: u64::try_from(bytes / 5 * 4).unwrap_or(u64::MAX),
    })
}

pub(super) fn resolve_ingress(cx: &mut Ctx<'_>) -> Option<ResolvedIngress> {
    let wanted = cx.inputs.app.app.ingress.as_ref()?;
    let at = Path::root().key("ingress");
    // A `web` or a port in error was left out of the typed app: it is not missing.
    let missing = match cx.inputs.app.app.processes.get("web") {
        Some(web) => web.port.is_none() && !cx.app_dropped(&Path::parse("processes.web.port")),
        None => !cx.process_dropped("web"),
    };
    if missing {
        cx.app_err(
            Code::NeedsPort,
            &at,
            "an Ingress routes to the `web` process's port, and there is none",
            "add a `web` process with a `port`",
        );
    }
    let domains = &cx.inputs.allocation.domains;
    let file = cx.alloc_file().to_owned();
    for (i, host) in wanted.hosts.iter().enumerate() {
        // Without the operator repo the domains are not known.
        if cx.inputs.stand_in || domains.iter().any(|d| host_allowed(d, host)) {
            continue;
        }
        // A list with an entry in error is left out of the typed allocation whole: a
        // host one of its entries allows as written is not reported on top of that
        // entry's own error, and the message names the entries that are good.
        let written = if domains.is_empty() {
            written_domains(cx)
        } else {
            Vec::new()
        };
        if written.iter().any(|d| host_allowed(d, host)) {
            continue;
        }
        let good: Vec<&str> = domains
            .iter()
            .chain(written.iter().filter(|d| crate::input::formats::domain(d)))
            .map(String::as_str)
            .collect();
        let allowed = if good.is_empty() {
            "none".to_owned()
        } else {
            good.join(", ")
        };
        cx.app_err(
            Code::NotAllowed,
            &at.key("hosts").index(i),
            format!("`{host}` is outside the domains the operator allows ({file}: {allowed})"),
            "use an allowed hostname, or ask the operator to add it",
        );
    }
    let Some(policy) = cx.inputs.platform.ingress.clone() else {
        if cx.platform_dropped("ingress") {
            return None;
        }
        let pfile = cx.inputs.platform_doc.file.clone();
        cx.app_err(
            Code::PlatformSettingMissing,
            &at,
            format!("the app asks for an Ingress, and {pfile} sets no `ingress:`"),
            "ask the operator to configure ingress",
        );
        return None;
    };
    Some(ResolvedIngress {
        hosts: wanted.hosts.clone(),
        class_name: policy.class_name,
        cluster_issuer: policy.cluster_issuer,
    })
}

/// The allocation's `domains` as its file writes them (lowercase), those in error too.
fn written_domains(cx: &Ctx<'_>) -> Vec<String> {
    match cx
        .inputs
        .allocation_doc
        .root
        .at(&Path::root().key("domains"))
        .map(|n| &n.kind)
    {
        Some(NodeKind::Seq(items)) => items
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Scalar(s) => Some(s.text.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A hostname is allowed by `example.com` only as itself, and by `*.example.com` as one
/// more label in front (`shop.example.com`, not `a.b.example.com` nor `example.com`).
pub(super) fn host_allowed(domain: &str, host: &str) -> bool {
    match domain.strip_prefix("*.") {
        Some(parent) => host
            .strip_suffix(parent)
            .and_then(|h| h.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        None => domain == host,
    }
}

/// `waitFor` names services the app uses, and the platform has the images to wait with.
pub(super) fn check_wait_for(cx: &mut Ctx<'_>) {
    let app = &cx.inputs.app.app;
    let mut lists: Vec<(Path, &[Service])> = app
        .processes
        .iter()
        .map(|(name, p)| {
            (
                Path::root().key("processes").key(name).key("waitFor"),
                p.wait_for.as_slice(),
            )
        })
        .collect();
    if let Some(init) = &app.init {
        lists.push((Path::root().key("init").key("waitFor"), &init.wait_for));
    }
    let mut needs_wait_image = false;
    for (at, list) in lists {
        for (i, service) in list.iter().enumerate() {
            if !app.services.contains(service) && !cx.app_dropped(&Path::root().key("services")) {
                let name = match service {
                    Service::Postgres => "postgres",
                    Service::Redis => "redis",
                };
                cx.app_err(
                    Code::ServiceNotUsed,
                    &at.index(i),
                    format!("the app does not use `{name}`"),
                    &format!("add `{name}` to `services:`, or drop it here"),
                );
            }
            needs_wait_image |= *service == Service::Postgres;
        }
    }
    if needs_wait_image
        && cx.inputs.platform.images.wait.is_none()
        && !cx.platform_dropped("images.wait")
    {
        cx.platform_err(
            Code::PlatformSettingMissing,
            &Path::parse("images"),
            "an app waits for its database, and no `images.wait` is set",
            "pin an image with sh and pg_isready (e.g. a postgres image) under images.wait",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn wildcard_domains_allow_one_label() {
        assert!(host_allowed("*.apps.example.net", "shop.apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "a.b.apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "apps.example.net"));
        assert!(!host_allowed("*.apps.example.net", "evilapps.example.net"));
        assert!(host_allowed("shop.acme.example", "shop.acme.example"));
        assert!(!host_allowed("shop.acme.example", "x.shop.acme.example"));
    }
}
