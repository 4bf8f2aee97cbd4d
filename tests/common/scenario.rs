//! In-process scenarios: both repos as in-memory trees, run through the code the binary
//! runs once it has parsed its command line ([`dovetail::cli::run_on`], then
//! [`dovetail::cli::finish`] for the final error line and the exit status), with stdout
//! and stderr captured. No process and no directory per case, so a case costs one merge:
//! the bulk of the bad-input and merge cases live here. What needs a real process (exit
//! codes of usage mistakes, git, ssh, https, Argo CD's environment) stays with
//! [`super::dovetail`].
//!
//! Files are named as the spawned tests name them, by their repo: `app/dovetail.yaml`,
//! `operator/tenants/acme/shop.yaml`; messages name them the same way.

use std::fs;
use std::path::Path;

use dovetail::cli::{Action, Environment, Io, finish, run_on};
use dovetail::emit::report::Format;
use dovetail::input::tree::{MemEntry, MemTree};
use dovetail::pipeline::{Location, Sources};

use super::{Run, root};

/// The customer app and the operator repo of one case, in memory.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The app directory, named `app` in messages.
    pub app: MemTree,
    /// The operator repo, named `operator` in messages.
    pub operator: MemTree,
    /// `--allocation TENANT/APP`, when the operator repo holds several.
    pub allocation: Option<(String, String)>,
}

impl Scenario {
    /// `examples/<name>`'s `app/` and `operator/`, read into memory.
    pub fn example(name: &str) -> Scenario {
        let dir = root().join("examples").join(name);
        let mut s = Scenario::empty();
        load(&dir.join("app"), "", &mut s.app);
        load(&dir.join("operator"), "", &mut s.operator);
        s
    }

    /// Every example under `examples/` (a directory with `app/` and `operator/`), by
    /// name.
    pub fn examples() -> Vec<(String, Scenario)> {
        let mut names: Vec<String> = fs::read_dir(root().join("examples"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("app").is_dir() && p.join("operator").is_dir())
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        names.sort();
        assert!(!names.is_empty());
        names
            .into_iter()
            .map(|n| {
                let s = Scenario::example(&n);
                (n, s)
            })
            .collect()
    }

    /// As much of what dovetail renders as one app can have: the Indico example (init
    /// Job, autoscaling, a singleton, sidecars, metrics and PodMonitors, a shared
    /// volume, CloudNativePG, Redis, an Ingress, secrets and an image pull secret) with a
    /// binary config file, a
    /// LoadBalancer Service, an `emptyDir` of a fragment, local storage from a plan and
    /// the platform, and the platform's egress rules. The drift guards render it.
    pub fn maximal() -> Scenario {
        const APP: &str = "app/dovetail.yaml";
        const ALLOC: &str = "operator/tenants/events/indico.yaml";
        const PLATFORM: &str = "operator/platform.yaml";
        let mut s = Scenario::example("indico");
        s.write("app/config/logo.png", vec![0x89, b'P', b'N', b'G', 0, 0xff, 0xfe])
            .edit(
                APP,
                "files:\n",
                "files:\n  - {path: config/logo.png, mount: /etc/indico/logo.png, processes: [web]}\n",
            )
            .edit(
                APP,
                "    port: 8080\n",
                "    port: 8080\n    serviceType: LoadBalancer\n",
            )
            .edit(
                APP,
                "        - name: web\n",
                "        - name: web\n          volumeMounts: [{name: scratch, mountPath: /scratch}]\n",
            )
            .edit(
                APP,
                "  celery:\n",
                "      volumes: [{name: scratch, emptyDir: {sizeLimit: 1Gi}}]\n  celery:\n",
            )
            .edit(
                ALLOC,
                "web: {replicas: 2, plan: medium, autoscaling: {maxReplicas: 4}}",
                "web: {replicas: 2, plan: medium, autoscaling: {maxReplicas: 4}, serviceTypes: [LoadBalancer]}",
            )
            .edit(
                ALLOC,
                "celery: {replicas: 2, plan: small}",
                "celery: {replicas: 2, plan: small, ephemeralStorage: 2Gi}",
            )
            .edit(
                PLATFORM,
                "  medium: {cpu: \"1\", memory: 2Gi}",
                "  medium: {cpu: \"1\", memory: 2Gi, ephemeralStorage: 4Gi}",
            )
            .edit(
                PLATFORM,
                "  sidecarResources: {cpu: 50m, memory: 64Mi}",
                "  sidecarResources: {cpu: 50m, memory: 64Mi, ephemeralStorage: 128Mi}\n  ephemeralStorage: 3Gi",
            )
            .append(
                PLATFORM,
                "network:\n  egress:\n    - {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}\n    - {cidr: 203.0.113.0/24, ports: [5432]}\n  clusterCIDRs: [10.244.0.0/16]\n  dns: {namespace: kube-system, podLabels: {k8s-app: kube-dns}}\n  apiServer: [192.0.2.10/32]\n",
            );
        s
    }

    /// [`Scenario::maximal`] on a platform that decrypts at render time, where the render
    /// holds the Secrets themselves (redacted: the scenario has no identity) instead of an
    /// AgeSecret.
    pub fn maximal_decrypting_at_render() -> Scenario {
        let mut s = Scenario::maximal();
        s.append("operator/platform.yaml", "secrets: {decryption: render}\n");
        s
    }

    /// No files at all.
    pub fn empty() -> Scenario {
        Scenario {
            app: MemTree::new("app"),
            operator: MemTree::new("operator"),
            allocation: None,
        }
    }

    /// The tree `rel` is in (`app/…` or `operator/…`), and the path inside it.
    fn tree(&mut self, rel: &str) -> (&mut MemTree, String) {
        match rel.split_once('/') {
            Some(("app", inside)) => (&mut self.app, inside.to_owned()),
            Some(("operator", inside)) => (&mut self.operator, inside.to_owned()),
            _ => panic!("`{rel}` is in neither app/ nor operator/"),
        }
    }

    /// Writes the file `rel`.
    pub fn write(&mut self, rel: &str, text: impl Into<Vec<u8>>) -> &mut Scenario {
        let (tree, inside) = self.tree(rel);
        tree.file(&inside, text);
        self
    }

    /// The text of the file `rel`.
    pub fn read(&self, rel: &str) -> String {
        let (tree, inside) = match rel.split_once('/') {
            Some(("app", inside)) => (&self.app, inside),
            Some(("operator", inside)) => (&self.operator, inside),
            _ => panic!("`{rel}` is in neither app/ nor operator/"),
        };
        match tree.entry(inside) {
            Some(MemEntry::File(bytes)) => String::from_utf8(bytes.clone()).unwrap(),
            other => panic!("`{rel}` is not a file: {other:?}"),
        }
    }

    /// Replaces the first `from` by `to` in `rel`, failing if `from` is not there.
    pub fn edit(&mut self, rel: &str, from: &str, to: &str) -> &mut Scenario {
        let text = self.read(rel);
        assert!(text.contains(from), "`{from}` not in {rel}");
        self.write(rel, text.replacen(from, to, 1))
    }

    /// Appends `text` to `rel`.
    pub fn append(&mut self, rel: &str, text: &str) -> &mut Scenario {
        let mut t = self.read(rel);
        t.push_str(text);
        self.write(rel, t)
    }

    /// Removes `rel` and everything under it.
    pub fn remove(&mut self, rel: &str) -> &mut Scenario {
        let (tree, inside) = self.tree(rel);
        tree.remove(&inside);
        self
    }

    /// Makes `rel` a symlink to `target`.
    pub fn symlink(&mut self, rel: &str, target: &str) -> &mut Scenario {
        let (tree, inside) = self.tree(rel);
        tree.symlink(&inside, target);
        self
    }

    /// Picks the allocation, as `--allocation TENANT/APP` does.
    pub fn allocation(&mut self, tenant: &str, app: &str) -> &mut Scenario {
        self.allocation = Some((tenant.to_owned(), app.to_owned()));
        self
    }

    /// `dovetail render --app app --operator operator`.
    pub fn render(&self) -> Run {
        self.run(&Action::Render { output_dir: None }, true, true)
    }

    /// `dovetail render`, asserting success: the manifests.
    pub fn rendered(&self) -> String {
        let r = self.render();
        assert_eq!(r.code, 0, "render failed:\n{}", r.stderr);
        r.stdout
    }

    /// `dovetail render`, asserting success: the manifests, parsed.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        super::documents(&self.rendered())
    }

    /// `dovetail validate --app app --operator operator` in text form.
    pub fn validate(&self) -> Run {
        self.validate_as(Format::Text)
    }

    /// `dovetail validate --app app --operator operator --format FORMAT`.
    pub fn validate_as(&self, format: Format) -> Run {
        self.run(&Action::Validate { format }, true, true)
    }

    /// `dovetail validate --app app`: the customer side alone.
    pub fn validate_app(&self) -> Run {
        self.run(
            &Action::Validate {
                format: Format::Text,
            },
            true,
            false,
        )
    }

    /// `dovetail validate --operator operator --format FORMAT`: the whole operator repo.
    pub fn validate_operator(&self, format: Format) -> Run {
        self.run(&Action::Validate { format }, false, true)
    }

    /// `dovetail explain --app app --operator operator`, asserting success.
    pub fn explain(&self) -> String {
        let r = self.run(&Action::Explain, true, true);
        assert_eq!(r.code, 0, "explain failed:\n{}", r.stderr);
        r.stdout
    }

    /// Runs `action` with the app (named, or left to its default when not `app`) and
    /// the operator repo (or none), in an empty environment.
    fn run(&self, action: &Action, app: bool, operator: bool) -> Run {
        let sources = Sources {
            app: Location::Memory(self.app.clone()),
            app_given: app,
            operator: operator.then(|| Location::Memory(self.operator.clone())),
            git: None,
            allocation: self.allocation.clone(),
            identities: Vec::new(),
            argocd: None,
        };
        let env = Environment::of(&[], None);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = run_on(
            action,
            &sources,
            Io {
                input: &mut std::io::empty(),
                out: &mut out,
                err: &mut err,
                env: &env,
            },
        );
        let code = finish(result, &mut err);
        Run {
            code: i32::from(code),
            stdout: String::from_utf8(out).unwrap(),
            stderr: String::from_utf8(err).unwrap(),
        }
    }
}

/// Copies the directory `dir` into `tree` under `prefix`, symlinks as symlinks.
fn load(dir: &Path, prefix: &str, tree: &mut MemTree) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(Result::unwrap).collect();
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            tree.symlink(&name, target.to_str().unwrap());
        } else if kind.is_dir() {
            tree.dir(&name);
            load(&entry.path(), &format!("{name}/"), tree);
        } else {
            tree.file(&name, fs::read(entry.path()).unwrap());
        }
    }
}
