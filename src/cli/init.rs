//! `dovetail init`: a customer app or an operator repo to start from, instead of a blank
//! file. Every file is commented, carries the yaml-language-server modeline of its
//! schema (written beside it, in `.dovetail/`, so editors check it offline), and
//! validates as written. Nothing is ever overwritten: if any file init would write is
//! there, it writes none of them.

use std::path::{Path, PathBuf};

use super::{InitArgs, Io, UsageError};
use crate::Error;
use crate::emit::report::{Format, Reporter};
use crate::git::LocationError;
use crate::input::app::APP_FILE;
use crate::input::operator::{PLATFORM_FILE, allocation_path, is_app_name, is_tenant_name};
use crate::input::schema::SchemaKind;

/// Where the schemas go, relative to the app directory or the operator repo's root.
const SCHEMA_DIR: &str = ".dovetail";

/// `dovetail.yaml` of a Django app with Celery: `{tenant}` and `{app}` are filled in.
const APP_TEMPLATE: &str = r#"# yaml-language-server: $schema=.dovetail/app.schema.json
# dovetail.yaml: what this app *is*. What it *gets* (CPU, memory, replicas, storage
# sizes, the database, the hostnames it may use) is the operator's allocation, in the
# operator repo; a field of theirs written here is an error, not a silent drop.
#
#   dovetail validate --app .                       # this side alone
#   dovetail render --app . --operator OPERATOR     # the manifests, with the operator repo
#
# Every field: `dovetail schema app`, or the README's "Inputs". The schema beside this
# file (.dovetail/app.schema.json) lets editors check it as you type; refresh it after
# upgrading dovetail with `dovetail schema app > .dovetail/app.schema.json`.
apiVersion: dovetail/v1
kind: App

# The image every process runs: a tag or an @sha256 digest, from a registry the
# platform allows.
image: registry.example.com/{tenant}/{app}:1.0.0

# Runs before the app starts: the migrations. As an init container of every `web` pod
# (mode: initContainer), or once per sync as an Argo CD hook Job (mode: job).
init:
  command: ["python", "manage.py", "migrate", "--noinput"]
  mode: initContainer
  waitFor: [postgres]             # start once the database accepts connections

# One Deployment per process.
processes:
  web:                            # gunicorn behind a Service; `web` also gets the Ingress
    command: ["gunicorn", "{app}.wsgi", "--bind", "0.0.0.0:8000"]
    port: 8000
    health: {path: /healthz}      # readiness, liveness and startup probes over HTTP
    waitFor: [postgres, redis]
  worker:                         # Celery workers; no port, so a command checks them
    command: ["celery", "-A", "{app}", "worker", "--loglevel", "INFO"]
    health: {command: ["sh", "-c", "celery -A {app} inspect ping -d celery@$HOSTNAME --timeout 10"]}
    waitFor: [postgres, redis]
  beat:                           # the Celery scheduler: never two at once
    command: ["celery", "-A", "{app}", "beat", "--schedule", "/tmp/celerybeat-schedule"]
    singleton: true
    waitFor: [redis]

# Plain, non-secret settings, the same for every process. Values are used exactly as
# written (`3` stays "3", `off` stays "off").
env:
  DJANGO_SETTINGS_MODULE: {app}.settings
  DJANGO_ALLOWED_HOSTS: {app}.{tenant}.example
  STATIC_ROOT: /app/static
  GUNICORN_WORKERS: 3

# Secret values, age-encrypted to the platform's key, go into a secrets file:
#   printf '%s' "$VALUE" | dovetail secrets set SECRET_KEY --app . --operator OPERATOR
# and then:
# secrets: secrets.yaml

# Config files from this directory, mounted read-only:
# files:
#   - {path: config/logging.ini, mount: /app/config/logging.ini}

# A volume for static and media files, for `web`; its size and kind are the operator's.
static: {mount: /app/static, processes: [web]}

# What the platform provides: DATABASE_URL (PostgreSQL) and REDIS_URL.
services: [postgres, redis]

# Hostnames for `web`, within the domains the operator allows this app.
ingress:
  hosts: [{app}.{tenant}.example]
"#;

/// `platform.yaml`: `{recipients}` is filled in.
const PLATFORM_TEMPLATE: &str = r#"# yaml-language-server: $schema=.dovetail/platform.schema.json
# platform.yaml: the defaults and policy of every app on this platform. Only the
# operator writes this repo; each app's share is tenants/<tenant>/<app>.yaml.
#
#   dovetail validate --operator .     # this file, every allocation, and across them
#
# Every field: `dovetail schema platform`, or the README's "Inputs".
apiVersion: dovetail/v1
kind: Platform

# The platform's age public keys: customers encrypt their secrets to them, and the
# sidecar (or the controller) decrypts with the identity. Make one with
#   age-keygen -o platform-key.txt
# keep platform-key.txt out of git, and put the public key it prints here.
recipients: {recipients}

# Pinned images of the helpers dovetail adds: Redis, and the client that waits for the
# database (waitFor).
images:
  nginx: docker.io/nginxinc/nginx-unprivileged:1.27.3
  redis: docker.io/library/redis:7.4.1
  wait: docker.io/library/postgres:17.2-alpine

# The IngressClass and the cert-manager ClusterIssuer of every app's Ingress.
ingress: {className: nginx, clusterIssuer: letsencrypt}

# Storage classes: `block` for ReadWriteOnce volumes and the database, `shared` for
# ReadWriteMany.
storage: {block: standard, shared: nfs}

# A CloudNativePG Cluster per app that asks for postgres.
database: {provider: cnpg, instances: 1}

policy:
  registries: ["registry.example.com/*"]        # where customers' images may come from
  sidecarResources: {cpu: 50m, memory: 64Mi}    # each sidecar, init and helper container
  maxSidecars: 4                                # sidecars a customer may add to each pod

# Sizes an allocation can name instead of CPU and memory of its own.
plans:
  small: {cpu: 250m, memory: 512Mi}
  medium: {cpu: "1", memory: 2Gi}
"#;

/// `tenants/<tenant>/<app>.yaml`: `{tenant}`, `{app}` and `{repo}` are filled in.
const ALLOCATION_TEMPLATE: &str = r#"# yaml-language-server: $schema=../../.dovetail/allocation.schema.json
# What the app {tenant}/{app} gets. Its identity is this file's path; Argo CD's
# Application for it is `{tenant}-{app}`. Only the operator writes this file.
#
# Every field: `dovetail schema allocation`, or the README's "Inputs".
apiVersion: dovetail/v1
kind: Allocation

# The customer repo the app comes from, and its directory there (default: the root).
repo: {repo}
path: deploy

namespace: {tenant}-{app}

# Hostnames the app may ask for.
domains: ["{app}.{tenant}.example"]

# Replicas and sizes per process: CPU and memory of their own, or a plan of
# platform.yaml. "*" sizes every process not named.
processes:
  web: {replicas: 2, plan: small}
  worker: {replicas: 1, cpu: 500m, memory: 1Gi}
  "*": {replicas: 1, plan: small}

storage:
  static: {size: 5Gi, shared: true}    # shared: ReadWriteMany, so every web pod mounts it
  database: {size: 10Gi}

redis: {memory: 256Mi}
"#;

pub(super) fn run(args: InitArgs, io: Io<'_>) -> Result<(), Error> {
    let (tenant, app) = match args.allocation.split_once('/') {
        Some((t, a)) if is_tenant_name(t) && is_app_name(a) => (t, a),
        _ => return Err(UsageError::BadAllocation(args.allocation.clone()).into()),
    };
    if let Some(repo) = &args.repo {
        // Refused as `--app` refuses it: the message shows no part of the credentials.
        if let Err(e @ (LocationError::PasswordInUrl | LocationError::UserInUrl)) =
            crate::git::GitSpec::parse(repo)
        {
            return Err(UsageError::Location(e).into());
        }
        if !crate::input::formats::repo_url(repo) {
            return Err(UsageError::BadRepo(repo.clone()).into());
        }
    }
    for r in &args.recipient {
        if r.parse::<age::x25519::Recipient>().is_err() {
            return Err(UsageError::BadRecipient(crate::crypto::shown_key(r)).into());
        }
    }
    let fill = |template: &str| {
        let repo = args
            .repo
            .clone()
            .unwrap_or_else(|| format!("https://git.example.com/{tenant}/{app}.git"));
        let recipients = if args.recipient.is_empty() {
            "[]".to_owned()
        } else {
            format!("[{}]", args.recipient.join(", "))
        };
        template
            .replace("{tenant}", tenant)
            .replace("{app}", app)
            .replace("{repo}", &yaml_scalar(&repo))
            .replace("{recipients}", &recipients)
    };

    let mut files: Vec<(PathBuf, String)> = Vec::new();
    if let Some(dir) = &args.app {
        files.push((dir.join(APP_FILE), fill(APP_TEMPLATE)));
        files.push((schema_path(dir, SchemaKind::App), schema(SchemaKind::App)));
    }
    if let Some(dir) = &args.operator {
        files.push((dir.join(PLATFORM_FILE), fill(PLATFORM_TEMPLATE)));
        files.push((
            dir.join(allocation_path(tenant, app)),
            fill(ALLOCATION_TEMPLATE),
        ));
        for kind in [SchemaKind::Platform, SchemaKind::Allocation] {
            files.push((schema_path(dir, kind), schema(kind)));
        }
    }
    // Every file is checked before any is written: init leaves all or nothing.
    if let Some((path, _)) = files.iter().find(|(p, _)| p.symlink_metadata().is_ok()) {
        return Err(UsageError::WouldOverwrite(path.clone()).into());
    }
    for (path, text) in &files {
        write_new(path, text)?;
    }
    let mut reporter = Reporter::new(io.err, Format::Text);
    for (path, _) in &files {
        reporter
            .done(&format!("wrote {}", path.display()))
            .map_err(Error::Stderr)?;
    }
    let next = match (&args.app, &args.operator) {
        (Some(a), Some(o)) => format!(
            "next: dovetail render --app {} --operator {}",
            a.display(),
            o.display()
        ),
        (Some(a), None) => format!("next: dovetail validate --app {}", a.display()),
        (None, Some(o)) => format!("next: dovetail validate --operator {}", o.display()),
        (None, None) => String::new(),
    };
    reporter.note(&next).map_err(Error::Stderr)
}

fn schema_path(dir: &Path, kind: SchemaKind) -> PathBuf {
    dir.join(SCHEMA_DIR)
        .join(format!("{}.schema.json", kind.name()))
}

fn schema(kind: SchemaKind) -> String {
    kind.text().to_owned()
}

/// A URL as a YAML scalar: quoted (JSON quoting is YAML), so that no character of it
/// can end the line or the value.
fn yaml_scalar(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Writes a file that must not exist yet (`create_new`: a file that appeared since the
/// check is still not overwritten), creating its directories.
fn write_new(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    let open_err = |source| Error::Open {
        action: "write",
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        // A file where the directory goes: named itself, not the file beneath it.
        std::fs::create_dir_all(parent).map_err(|source| Error::Open {
            action: "create the directory",
            path: parent.display().to_string(),
            source,
        })?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                Error::Usage(UsageError::WouldOverwrite(path.to_owned()))
            }
            _ => open_err(e),
        })?;
    f.write_all(text.as_bytes()).map_err(open_err)
}
