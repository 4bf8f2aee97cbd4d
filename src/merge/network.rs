//! The network around the app: the platform's egress rules, checked, with the
//! exceptions every rule gets.

use std::collections::BTreeMap;

use super::Problem;
use super::resolved::{ResolvedEgress, ResolvedNetwork};
use crate::diag::Code;
use crate::input::model::Platform;
use crate::input::yaml::Path;

/// The platform's egress rules with the exceptions every rule gets: the cloud metadata
/// service and the cluster's own ranges. A rule inside one of those is a problem of
/// `platform.yaml`, whatever app it is rendered for.
pub fn resolve_network(platform: &Platform) -> (ResolvedNetwork, Vec<Problem>) {
    use crate::cidr::{self, Cidr, RuleError};
    let given = platform.network.clone().unwrap_or_default();
    let at = Path::root().key("network");
    let forced = forced(platform);
    let mut problems = Vec::new();
    let rules: Vec<(Path, String, Vec<String>, Vec<u16>)> = match &given.egress {
        Some(rules) => rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    at.key("egress").index(i),
                    r.cidr.clone(),
                    r.except.clone(),
                    r.ports.clone(),
                )
            })
            .collect(),
        // The public internet: everything but the private, shared and link-local ranges.
        None => ["0.0.0.0/0", "::/0"]
            .into_iter()
            .map(|block| {
                let inside = Cidr::parse(block);
                let except = cidr::PRIVATE
                    .iter()
                    .filter(|p| {
                        inside
                            .zip(Cidr::parse(p))
                            .is_some_and(|(b, p)| b.contains(&p))
                    })
                    .map(|p| (*p).to_owned())
                    .collect();
                (at.clone(), block.to_owned(), except, Vec::new())
            })
            .collect(),
    };
    let mut egress = Vec::new();
    for (rule_at, block, except, ports) in rules {
        let Some(block_cidr) = Cidr::parse(&block) else {
            continue;
        };
        let given_except: Vec<Cidr> = except.iter().filter_map(|e| Cidr::parse(e)).collect();
        match cidr::exceptions(&block_cidr, &given_except, &forced) {
            // As the block parses: the API server warns of an IPv6 block not in its
            // canonical (RFC 5952) spelling, `2001:DB8::/32` or `2001:0db8::/32`.
            Ok(except) => egress.push(ResolvedEgress {
                cidr: block_cidr.to_string(),
                except: except.iter().map(ToString::to_string).collect(),
                ports,
            }),
            Err(RuleError::Forbidden { inside }) => problems.push(Problem::new(Code::EgressRule,
                rule_at.key("cidr"),
                format!("`{block}` lies inside `{inside}`, which no app may reach (the cloud metadata service, or the cluster's own pods and services)"),
                "allow addresses outside it",
            )),
            Err(RuleError::ExceptOutside(e)) => problems.push(Problem::new(Code::EgressRule,
                rule_at.key("except"),
                format!("`{e}` is not inside `{block}`"),
                "list only blocks inside the rule's cidr",
            )),
        }
    }
    // The API server, for CloudNativePG's instances (its endpoints are the control
    // plane's, outside the pod and service ranges).
    let (api_server, more) = pinned_or_anywhere(
        platform,
        &given.api_server,
        &at.key("apiServer"),
        "name the API server's own addresses",
    );
    problems.extend(more);
    let dns = given.dns.unwrap_or_else(|| crate::input::model::Dns {
        namespace: crate::input::model::DEFAULT_DNS_NAMESPACE.to_owned(),
        pod_labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
    });
    let network = ResolvedNetwork {
        egress,
        dns_namespace: dns.namespace,
        dns_labels: dns.pod_labels,
        api_server,
        database_operator_namespace: platform.database_operator_namespace().to_owned(),
    };
    (network, problems)
}

/// What no rule may reach: the cloud metadata service and the cluster's own ranges.
fn forced(platform: &Platform) -> Vec<crate::cidr::Cidr> {
    use crate::cidr::{self, Cidr};
    let mut forced: Vec<Cidr> = cidr::METADATA
        .iter()
        .filter_map(|s| Cidr::parse(s))
        .collect();
    if let Some(n) = &platform.network {
        forced.extend(n.cluster_cidrs.iter().filter_map(|s| Cidr::parse(s)));
    }
    forced
}

/// Blocks for a destination the platform may pin (`given`, at `at`): those, else any
/// address but the metadata service and the cluster's own ranges. A given block inside
/// those is a problem of `platform.yaml`.
pub fn pinned_or_anywhere(
    platform: &Platform,
    given: &[String],
    at: &Path,
    hint: &str,
) -> (Vec<ResolvedEgress>, Vec<Problem>) {
    use crate::cidr::{self, Cidr};
    let forced = forced(platform);
    if given.is_empty() {
        let anywhere = ["0.0.0.0/0", "::/0"]
            .iter()
            .filter_map(|b| Cidr::parse(b))
            .filter_map(|b| {
                let except = cidr::exceptions(&b, &[], &forced).ok()?;
                Some(ResolvedEgress {
                    cidr: b.to_string(),
                    except: except.iter().map(ToString::to_string).collect(),
                    ports: Vec::new(),
                })
            })
            .collect();
        return (anywhere, Vec::new());
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, block) in given.iter().enumerate() {
        let Some(b) = Cidr::parse(block) else {
            continue;
        };
        match cidr::exceptions(&b, &[], &forced) {
            Ok(except) => out.push(ResolvedEgress {
                cidr: b.to_string(),
                except: except.iter().map(ToString::to_string).collect(),
                ports: Vec::new(),
            }),
            Err(_) => problems.push(Problem::new(
                Code::EgressRule,
                at.index(i),
                format!("`{block}` lies inside the metadata service's or the cluster's own ranges"),
                hint,
            )),
        }
    }
    (out, problems)
}

/// An app's namespace may not be one the platform's own components run in: every app's
/// NetworkPolicies admit traffic from those by name (a tenant placed in CloudNativePG's
/// could reach every other tenant's database), and the fleet would put its deny-all
/// baseline, quota and LimitRange on the component.
/// `argocd` is Argo CD's namespace when known (the fleet's Application's), else its
/// usual one.
pub fn check_namespace(
    platform: &crate::input::model::Platform,
    a: &crate::input::model::Allocation,
    doc: &crate::diag::Doc,
    diags: &mut crate::diag::Diagnostics,
    argocd: Option<&str>,
) {
    use crate::argocd::DEFAULT_NAMESPACE;
    let mut reserved: Vec<(&str, &str)> = vec![
        ("kube-system", "Kubernetes' own"),
        ("kube-public", "Kubernetes' own"),
        ("kube-node-lease", "Kubernetes' own"),
        ("default", "Kubernetes' default"),
        // Where the fleet runs, else where the operator says Argo CD runs.
        match (argocd, platform.argocd_namespace()) {
            (Some(running), _) => (running, "Argo CD's"),
            (None, Some(declared)) => (declared, "Argo CD's (argocd.namespace)"),
            (None, None) => (DEFAULT_NAMESPACE, "Argo CD's"),
        },
        (DEFAULT_NAMESPACE, "Argo CD's usual"),
        ("dovetail-system", "dovetail's controller's"),
        (
            platform.ingress_namespace(),
            "the ingress controller's (ingress.controllerNamespace)",
        ),
        (
            platform.database_operator_namespace(),
            "CloudNativePG's (database.operatorNamespace)",
        ),
        (
            platform.dns_namespace(),
            "the cluster DNS's (network.dns.namespace)",
        ),
    ];
    if let Some(m) = &platform.monitoring {
        reserved.push((&m.namespace, "Prometheus' (monitoring.namespace)"));
    }
    if let Some((_, whose)) = reserved.iter().find(|(n, _)| *n == a.namespace) {
        diags.push(
            doc.value_error(
                Code::ReservedName,
                &Path::root().key("namespace"),
                format!("`{}` is {whose} namespace", a.namespace),
            )
            .hint("give the app a namespace of its own, such as <tenant>-<app>"),
        );
    }
}
