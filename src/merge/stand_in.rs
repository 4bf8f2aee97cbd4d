//! `validate --app` without the operator repo: the customer's side checked by the same
//! merge `render` runs, against a stand-in operator side that gives the app everything
//! it asks for. Whatever the merge still finds is the app's own problem, wherever it is
//! deployed: a fragment the API server refuses, a file mounted over the static volume,
//! a secret set twice. What depends on the real allocation (sizes, domains, the app's
//! name) is left to `validate` with `--operator`.

use std::collections::BTreeMap;

use super::{Inputs, resolve};
use crate::diag::{Diagnostics, Doc};
use crate::input::app::AppInputs;
use crate::input::model::{
    Allocation, Database, DatabaseProvider, Identity, Images, IngressPolicy, Platform, Policy,
    ProcessAllocation, RedisAllocation, Resources, ServiceType, StaticAllocation,
    StorageAllocation, StorageClasses,
};
use crate::input::yaml::{Node, NodeKind, Pos};

/// Where the stand-in's own problems would point; none is expected, and any is dropped.
const STAND_IN: &str = "<stand-in operator repo>";

/// Every app-side problem the merge finds in `app`, with no operator repo at hand.
pub fn check_app_alone(app: &AppInputs, prior: &Diagnostics) -> Diagnostics {
    let huge = Resources {
        cpu: "1024".to_owned(),
        memory: "1Ti".to_owned(),
        ephemeral_storage: Some("1Ti".to_owned()),
    };
    let platform = Platform {
        api_version: "dovetail/v1".to_owned(),
        kind: "Platform".to_owned(),
        recipients: Vec::new(),
        images: Images {
            nginx: Some("stand-in/nginx:1".to_owned()),
            redis: Some("stand-in/redis:1".to_owned()),
            wait: Some("stand-in/wait:1".to_owned()),
        },
        ingress: Some(IngressPolicy {
            class_name: "stand-in".to_owned(),
            cluster_issuer: None,
            controller_namespace: None,
        }),
        storage: StorageClasses {
            block: Some("stand-in".to_owned()),
            shared: Some("stand-in".to_owned()),
        },
        database: Some(Database {
            provider: DatabaseProvider::Cnpg,
            instances: None,
            resources: None,
            operator_namespace: None,
            backup: None,
        }),
        monitoring: None,
        policy: Policy {
            registries: vec!["*".to_owned()],
            sidecar_resources: huge.clone(),
            // As many as the schema lets any operator allow: how many a pod may run
            // is the operator's to say.
            max_sidecars: Some(crate::input::model::MOST_SIDECARS),
            ephemeral_storage: huge.ephemeral_storage.clone(),
        },
        plans: BTreeMap::from([("stand-in".to_owned(), huge)]),
        network: None,
        secrets: crate::input::model::SecretsPolicy::default(),
        clusters: BTreeMap::new(),
        argocd: None,
    };
    let all = ProcessAllocation {
        replicas: Some(1),
        plan: Some("stand-in".to_owned()),
        service_types: vec![ServiceType::LoadBalancer, ServiceType::NodePort],
        ..ProcessAllocation::default()
    };
    let allocation = Allocation {
        api_version: "dovetail/v1".to_owned(),
        kind: "Allocation".to_owned(),
        repo: "stand-in".to_owned(),
        path: None,
        revision: None,
        namespace: "stand-in".to_owned(),
        domains: Vec::new(),
        processes: BTreeMap::from([("*".to_owned(), all)]),
        storage: StorageAllocation {
            static_files: Some(StaticAllocation {
                size: "1Ti".to_owned(),
                shared: true,
            }),
            database: Some(crate::input::model::DatabaseAllocation {
                size: "1Ti".to_owned(),
                backup: None,
                generation: None,
            }),
        },
        redis: Some(RedisAllocation {
            memory: "1Ti".to_owned(),
            persistence: None,
        }),
        quota: None,
        restore: None,
        cluster: None,
    };
    let empty = Doc {
        file: STAND_IN.to_owned(),
        root: Node {
            pos: Pos::START,
            kind: NodeKind::Map(Vec::new()),
        },
    };
    let identity = Identity {
        tenant: "stand-in".to_owned(),
        app: "stand-in".to_owned(),
    };
    let (_, diags) = resolve(&Inputs {
        identity: &identity,
        app,
        allocation_doc: &empty,
        allocation: &allocation,
        platform_doc: &empty,
        platform: &platform,
        identities: None,
        stand_in: true,
        prior,
    });
    let mut own = Diagnostics::default();
    for d in diags.sorted() {
        if d.file != STAND_IN {
            own.push(d);
        }
    }
    own
}
