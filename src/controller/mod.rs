//! `dovetail controller`: in-cluster decryption. It watches `AgeSecret`s in every
//! namespace and turns each into the app's Secrets (`<app>-secrets`, `<app>-pull`), owned
//! by the `AgeSecret`, so that plaintext exists only in the app's namespace — never in
//! Argo CD, its cache, its UI or git.
//!
//! The app's identity `<tenant>/<app>` is taken from the labels the fleet puts on the
//! Namespace (`dovetail.dev/tenant`, `dovetail.dev/app`), never from the `AgeSecret` or
//! anything else in the namespace a customer can write: a value copied from another
//! app's repo carries another app's binding line and is refused. A value that fails is
//! left out and named in the `AgeSecret`'s status and an Event, without any byte of its
//! content. A Secret of that name the controller does not own is never touched.
//!
//! Reconciling is a function of the `AgeSecret`, the Namespace's labels and the
//! identities: applied with server-side apply, the same inputs write the same Secrets,
//! so a restart changes nothing.

pub mod agesecret;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use agesecret::{AgeSecret, AgeSecretStatus, Condition, Refused, desired};

use crate::input::model::Identity;

/// The field manager and event reporter the controller writes as.
pub const MANAGER: &str = "dovetail-controller";

/// What the controller needs to run.
pub struct Options {
    /// The platform's identities, every one tried (old and new during a rotation).
    pub identities: Vec<age::x25519::Identity>,
    /// A kubeconfig file; when absent, `$KUBECONFIG` or `~/.kube/config`, else the
    /// in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
}

/// Why the controller could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// No way to reach the API server.
    #[error("cannot set up the Kubernetes client: {0}")]
    Client(String),
    /// A call to the API server failed.
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

struct Ctx {
    client: Client,
    identities: Vec<age::x25519::Identity>,
    recorder: Recorder,
}

impl ControllerError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ControllerError::Client(_) => {
                "in a pod, check its service account; by hand, pass --kubeconfig FILE (or set KUBECONFIG)"
            }
            ControllerError::Kube(_) => {
                "check that the API server is reachable and that the controller's RBAC (deploy/controller) is applied"
            }
            ControllerError::Runtime(_) => "check the process's limits (threads, file descriptors)",
        }
    }
}

/// How long the controller finishes the reconciles under way after SIGTERM or SIGINT
/// before it stops anyway: with the API server unreachable, kube-rs's graceful shutdown
/// waits on its retries, and the pod would take its whole grace period to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the controller until SIGTERM or SIGINT.
pub fn run(options: Options) -> Result<(), ControllerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ControllerError::Runtime)?;
    runtime.block_on(serve(options))
}

async fn serve(options: Options) -> Result<(), ControllerError> {
    let config = match &options.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| ControllerError::Client(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .map_err(|e| ControllerError::Client(e.to_string()))?
        }
        // $KUBECONFIG or ~/.kube/config when there is one (by hand), else the in-cluster
        // service account (a pod has neither).
        None => kube::Config::infer()
            .await
            .map_err(|e| ControllerError::Client(e.to_string()))?,
    };
    let client = Client::try_from(config).map_err(|e| ControllerError::Client(e.to_string()))?;
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.to_owned(),
            instance: None,
        },
    );
    log(&format!(
        "watching AgeSecrets in every namespace with {} identit{}",
        options.identities.len(),
        if options.identities.len() == 1 {
            "y"
        } else {
            "ies"
        }
    ));
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        identities: options.identities,
        recorder,
    });
    // Signal handlers are installed before the first watch, so no signal is lost.
    let listen = |kind| tokio::signal::unix::signal(kind).map_err(ControllerError::Runtime);
    let stop = stop_signal(
        listen(tokio::signal::unix::SignalKind::terminate())?,
        listen(tokio::signal::unix::SignalKind::interrupt())?,
    )
    .shared();
    let controller = Controller::new(
        Api::<AgeSecret>::all(client.clone()),
        watcher::Config::default(),
    )
    // Any change to a Secret of an app's names — its own, edited or deleted, or one
    // someone else made or removed — looks at that app's AgeSecret again. Only names
    // are needed: Secrets are watched by their metadata, since listing every Secret of
    // the cluster whole (up to 1 MiB each, 500 to a page) would outgrow the
    // controller's memory limit at every start.
    .watches(
        Api::<kube::core::PartialObjectMeta<Secret>>::all(client),
        watcher::Config::default(),
        |secret| {
            let ns = secret.namespace();
            let name = secret.name_any();
            let app = name
                .strip_suffix("-secrets")
                .or_else(|| name.strip_suffix("-pull"))
                .map(str::to_owned);
            app.zip(ns)
                .map(|(app, ns)| kube::runtime::reflector::ObjectRef::new(&app).within(&ns))
        },
    )
    .graceful_shutdown_on(stop.clone())
    .run(reconcile, error_policy, ctx)
    .for_each(|result| async move {
        if let Err(e) = result {
            log(&format!("reconcile failed: {e}"));
        }
    });
    let deadline = async {
        stop.await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = controller => log("stopped"),
        () = deadline => log(&format!(
            "stopped: it had not wound down within {}s of the signal (is the API server reachable?)",
            SHUTDOWN_GRACE.as_secs()
        )),
    }
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT.
async fn stop_signal(
    mut terminate: tokio::signal::unix::Signal,
    mut interrupt: tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

/// Why one reconcile failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A call to the API server failed.
    #[error("{0}")]
    Kube(#[from] kube::Error),
    /// An object without the name or namespace every AgeSecret has.
    #[error("an AgeSecret without a name or namespace")]
    Unnamed,
}

fn error_policy(_: Arc<AgeSecret>, e: &ReconcileError, _: Arc<Ctx>) -> Action {
    log(&format!("will retry: {e}"));
    Action::requeue(Duration::from_secs(10))
}

/// What became of one AgeSecret, for its status.
struct Outcome {
    ready: bool,
    reason: &'static str,
    message: String,
    refused: Vec<Refused>,
}

async fn reconcile(obj: Arc<AgeSecret>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().ok_or(ReconcileError::Unnamed)?;
    let name = obj.metadata.name.clone().ok_or(ReconcileError::Unnamed)?;
    let outcome = deliver(&obj, &ns, &name, &ctx).await?;
    let generation = obj.metadata.generation;
    let status = AgeSecretStatus {
        observed_generation: generation,
        conditions: vec![Condition {
            type_: "Ready".to_owned(),
            status: if outcome.ready { "True" } else { "False" }.to_owned(),
            reason: outcome.reason.to_owned(),
            message: outcome.message.clone(),
            observed_generation: generation,
        }],
        refused: outcome.refused.clone(),
    };
    // Only a change is written: a restart reconciles every AgeSecret again and must not
    // touch what is already right.
    if obj.status.as_ref() != Some(&status) {
        let api: Api<AgeSecret> = Api::namespaced(ctx.client.clone(), &ns);
        let (group, version, kind) = crate::render::AGE_SECRET;
        let patch = json!({
            "apiVersion": format!("{group}/{version}"),
            "kind": kind,
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        if !outcome.ready {
            let event = Event {
                type_: EventType::Warning,
                reason: outcome.reason.to_owned(),
                note: Some(truncate(&outcome.message, 1000)),
                action: "Deliver".to_owned(),
                secondary: None,
            };
            // An event is a courtesy; failing to publish one must not fail delivery.
            let _ = ctx.recorder.publish(&event, &obj.object_ref(&())).await;
        }
        log(&format!("{ns}/{name}: {}", outcome.message));
    }
    // What is not delivered may become deliverable without an event of ours (labels put
    // on the namespace later): look again now and then.
    Ok(if outcome.ready {
        Action::await_change()
    } else {
        Action::requeue(Duration::from_secs(60))
    })
}

/// Writes the Secrets an AgeSecret stands for, as far as its namespace and values allow.
async fn deliver(
    obj: &AgeSecret,
    ns: &str,
    name: &str,
    ctx: &Ctx,
) -> Result<Outcome, ReconcileError> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let labels = namespaces
        .get(ns)
        .await?
        .metadata
        .labels
        .unwrap_or_default();
    let (Some(tenant), Some(app)) = (
        labels.get("dovetail.dev/tenant"),
        labels.get("dovetail.dev/app"),
    ) else {
        return Ok(Outcome {
            ready: false,
            reason: "NoAppIdentity",
            message: format!(
                "namespace {ns} has no dovetail.dev/tenant and dovetail.dev/app labels: only the namespaces of the fleet get Secrets"
            ),
            refused: Vec::new(),
        });
    };
    if name != app {
        return Ok(Outcome {
            ready: false,
            reason: "NotTheAppsAgeSecret",
            message: format!("the AgeSecret of app {tenant}/{app} is named {app}, not {name}"),
            refused: Vec::new(),
        });
    }
    let identity = Identity {
        tenant: tenant.clone(),
        app: app.clone(),
    };
    let want = desired(&obj.spec, &identity, &ctx.identities);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let owner = obj.controller_owner_ref(&()).map(|mut o| {
        o.block_owner_deletion = Some(true);
        o
    });
    let mut foreign = Vec::new();
    let values = want
        .values
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                base64::engine::general_purpose::STANDARD.encode(v),
            )
        })
        .collect::<BTreeMap<_, _>>();
    let targets = [
        (format!("{app}-secrets"), "Opaque", Some(values)),
        (
            format!("{app}-pull"),
            "kubernetes.io/dockerconfigjson",
            want.pull.as_ref().map(|p| {
                BTreeMap::from([(
                    ".dockerconfigjson".to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(p),
                )])
            }),
        ),
    ];
    for (secret, type_, data) in targets {
        let existing = secrets.get_opt(&secret).await?;
        let ours = existing
            .as_ref()
            .is_none_or(|s| s.owner_references().iter().any(|o| o.uid == uid));
        if !ours {
            foreign.push(secret);
            continue;
        }
        match data {
            Some(data) => {
                let body = json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": secret,
                        "namespace": ns,
                        "labels": {
                            "app.kubernetes.io/name": app,
                            "app.kubernetes.io/managed-by": MANAGER,
                            "dovetail.dev/tenant": tenant,
                            "dovetail.dev/app": app,
                        },
                        "ownerReferences": owner.iter().collect::<Vec<_>>(),
                    },
                    "type": type_,
                    "data": data,
                });
                secrets
                    .patch(
                        &secret,
                        &PatchParams::apply(MANAGER).force(),
                        &Patch::Apply(&body),
                    )
                    .await?;
            }
            // No longer asked for (the pull secret went away): ours, so ours to remove.
            None if existing.is_some() => {
                secrets.delete(&secret, &DeleteParams::default()).await?;
            }
            None => {}
        }
    }
    let delivered = want.values.len() + usize::from(want.pull.is_some());
    let mut message = format!(
        "{} delivered",
        crate::diag::counted(delivered, "value", "values")
    );
    let (ready, reason) = if !foreign.is_empty() {
        message.push_str(&format!(
            "; Secret {} exists and is not this AgeSecret's: left alone",
            foreign.join(", ")
        ));
        (false, "SecretNotOwned")
    } else if !want.refused.is_empty() {
        (false, "ValuesRefused")
    } else {
        (true, "Delivered")
    };
    if !want.refused.is_empty() {
        // Escaped: a key is any text whoever wrote the AgeSecret chose, and this message
        // goes to the log, an Event and the status.
        let keys: Vec<String> = want
            .refused
            .iter()
            .map(|r| crate::diag::escaped(&r.key).into_owned())
            .collect();
        message.push_str(&format!("; refused: {}", keys.join(", ")));
    }
    Ok(Outcome {
        ready,
        reason,
        message,
        refused: want.refused,
    })
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// One line to stderr: what the controller did, never a value.
fn log(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "dovetail-controller: {line}");
}
