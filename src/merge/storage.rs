//! Config files and the static files volume: what the app asks for,
//! against what the allocation gives and the platform's classes.

use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use super::resolved::{ResolvedFile, ResolvedInit, ResolvedProcess, ResolvedStatic};
use crate::diag::Code;
use crate::input::formats::beneath;
use crate::input::model::InitMode;
use crate::input::yaml::Path;

/// Largest total of config files; a ConfigMap holds at most 1 MiB.
pub const MAX_FILES_TOTAL: u64 = 768 * 1024;

/// Longest ConfigMap key, as Kubernetes validates it.
const MAX_CONFIG_KEY: usize = 253;

pub(super) fn resolve_files(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) -> Vec<ResolvedFile> {
    let mut out: Vec<ResolvedFile> = Vec::new();
    let mut total = 0u64;
    let mut mounts: BTreeMap<(String, String), usize> = BTreeMap::new();
    // The init step (an init container in web's pods, or the Job) mounts every file.
    let init_mounts_all = cx.inputs.app.app.init.is_some();
    let mut init_mounts: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in cx.inputs.app.app.files.iter().enumerate() {
        let at = Path::root().key("files").index(i);
        // A file the app side could not read was reported there.
        let Some(content) = cx.inputs.app.files.get(i).cloned().flatten() else {
            continue;
        };
        total += content.len() as u64;
        if total > MAX_FILES_TOTAL {
            cx.app_err(
                Code::FileUnusable,
                &at.key("path"),
                format!("config files add up to more than {MAX_FILES_TOTAL} bytes"),
                "ship large files in the image instead",
            );
        }
        let processes: Vec<String> = match &f.processes {
            Some(p) => p.clone(),
            None => names.iter().map(|s| (*s).to_owned()).collect(),
        };
        let mut clashed = false;
        for p in &processes {
            if let Some(first) = mounts.insert((p.clone(), f.mount.clone()), i) {
                clashed = true;
                cx.app_err(
                    Code::MountClash,
                    &at.key("mount"),
                    format!(
                        "`{}` is already mounted by files[{first}] in `{p}`",
                        f.mount
                    ),
                    "mount each file at its own path",
                );
            }
        }
        if init_mounts_all
            && let Some(first) = init_mounts.insert(f.mount.clone(), i)
            && !clashed
        {
            cx.app_err(
                Code::MountClash,
                &at.key("mount"),
                format!(
                    "`{}` is already mounted by files[{first}], and the init step mounts every file (the API server refuses two mounts at one path)",
                    f.mount
                ),
                "mount each file at its own path",
            );
        }
        let key = config_key(&f.path);
        if key.len() > MAX_CONFIG_KEY {
            cx.app_err(Code::FileUnusable,
                &at.key("path"),
                format!(
                    "is {} characters as a ConfigMap key (`/` becomes `_`); Kubernetes allows {MAX_CONFIG_KEY}",
                    key.len()
                ),
                "use a shorter path",
            );
            continue;
        }
        // The API server refuses such a key (`IsConfigMapKey`): `..` starts the names of
        // the kubelet's own entries in a mounted ConfigMap.
        if key.starts_with("..") {
            cx.app_err(
                Code::FileUnusable,
                &at.key("path"),
                format!("is `{key}` as a ConfigMap key, and Kubernetes refuses keys that start with `..`"),
                "rename the file (or its directory) so that its path does not start with `..`",
            );
            continue;
        }
        if let Some(other) = out.iter().find(|o| o.key == key) {
            let other_path = other.path.clone();
            cx.app_err(
                Code::FileUnusable,
                &at.key("path"),
                format!(
                    "`{}` and `{other_path}` map to the same ConfigMap key `{key}`",
                    f.path
                ),
                "rename one of them",
            );
        }
        out.push(ResolvedFile {
            key,
            path: f.path.clone(),
            mount: f.mount.clone(),
            processes,
            content,
        });
    }
    out
}

/// A ConfigMap key for a repo path: `config/nginx.conf` becomes `config_nginx.conf`.
pub(super) fn config_key(path: &str) -> String {
    path.trim_start_matches("./")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn resolve_static(cx: &mut Ctx<'_>, names: &BTreeSet<&str>) -> Option<ResolvedStatic> {
    let wanted = cx.inputs.app.app.static_files.as_ref()?;
    let Some(given) = cx.inputs.allocation.storage.static_files.as_ref() else {
        if cx.alloc_dropped("storage.static") {
            return None;
        }
        let file = cx.alloc_file().to_owned();
        cx.app_err(
            Code::NotAllocated,
            &Path::root().key("static"),
            format!("the app asks for a static files volume, and {file} gives none"),
            &format!("ask the operator to add storage.static to {file}"),
        );
        return None;
    };
    cx.push_alloc(super::sizes::zero_size(
        &given.size,
        &Path::parse("storage.static.size"),
    ));
    let classes = &cx.inputs.platform.storage;
    let (access_mode, storage_class) = if given.shared {
        ("ReadWriteMany", classes.shared.clone())
    } else {
        ("ReadWriteOnce", classes.block.clone())
    };
    if given.shared && storage_class.is_none() && !cx.platform_dropped("storage.shared") {
        cx.platform_err(Code::PlatformSettingMissing,
            &Path::root().key("storage"),
            "an allocation asks for a shared (ReadWriteMany) volume, and no `storage.shared` class is set",
            "add storage.shared",
        );
    }
    Some(ResolvedStatic {
        mount: wanted.mount.clone(),
        size: given.size.clone(),
        access_mode: access_mode.to_owned(),
        storage_class,
        processes: wanted
            .processes
            .clone()
            .unwrap_or_else(|| names.iter().map(|s| (*s).to_owned()).collect()),
    })
}

/// A container may mount one thing at a path (the API server refuses two): a config file
/// at the static volume's mount, in a process that has both, is refused here.
pub(super) fn check_mount_clash(
    cx: &mut Ctx<'_>,
    files: &[ResolvedFile],
    static_files: Option<&ResolvedStatic>,
) {
    let has_init = cx.inputs.app.app.init.is_some();
    // Whether a container mounts both: the init step mounts every file and the static
    // volume (in web's pods, when it runs there).
    let together = |a: &[String], b: &[String]| has_init || a.iter().any(|p| b.contains(p));
    let mounts: Vec<(usize, &str, &[String])> = cx
        .inputs
        .app
        .app
        .files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let resolved = files.iter().find(|r| r.path == f.path)?;
            Some((i, f.mount.as_str(), resolved.processes.as_slice()))
        })
        .collect();
    // A mount beneath a file's is one too: the runtime cannot make a directory inside a
    // file, and the container does not start.
    let mut clashes = Vec::new();
    for &(i, mount, processes) in &mounts {
        if let Some(s) = static_files
            && together(processes, &s.processes)
        {
            if mount == s.mount {
                clashes.push((
                    i,
                    format!("`{mount}` is also where the static volume is mounted"),
                    "mount the file elsewhere, or inside the static volume's directory",
                ));
            } else if beneath(&s.mount, mount) {
                clashes.push((
                    i,
                    format!(
                        "the static volume is mounted at `{}`, inside this file",
                        s.mount
                    ),
                    "mount the file elsewhere, or the static volume outside it",
                ));
            }
        }
        for &(_, other, other_processes) in &mounts {
            if beneath(other, mount) && together(processes, other_processes) {
                clashes.push((
                    i,
                    format!("another file is mounted at `{other}`, inside this one"),
                    "mount one of the two files elsewhere",
                ));
            }
        }
    }
    for (i, message, hint) in clashes {
        cx.app_err(
            Code::MountClash,
            &Path::root().key("files").index(i).key("mount"),
            message,
            hint,
        );
    }
}

/// A ReadWriteOnce volume attaches to one node. Pods sharing it would have to be pinned
/// together, and then a node drain hangs: the evicted pod can only return to the cordoned
/// node, and the disruption budget holds the other. So it may have one pod at most.
pub(super) fn check_single_attach(
    cx: &mut Ctx<'_>,
    static_files: Option<&ResolvedStatic>,
    processes: &[ResolvedProcess],
    init: Option<&ResolvedInit>,
) {
    let Some(s) = static_files else { return };
    let shared = Path::parse("storage.static.shared");
    if s.access_mode != "ReadWriteOnce" || cx.dropped(cx.inputs.allocation_doc, &shared) {
        return;
    }
    // Each process that mounts it, at its most pods (the autoscaling maximum, if any):
    // web's pods mount it too when the init step runs in them.
    let init_in_web = init.is_some_and(|i| i.mode == InitMode::InitContainer);
    let mounting: Vec<(&str, u32)> = processes
        .iter()
        .filter(|p| s.processes.contains(&p.name) || (init_in_web && p.name == "web"))
        .map(|p| {
            let most = p
                .autoscaling
                .as_ref()
                .map_or(p.replicas, |a| a.max_replicas);
            (p.name.as_str(), most)
        })
        .collect();
    let mut total: u32 = mounting.iter().map(|(_, most)| most).sum();
    let mut pods: Vec<String> = mounting
        .iter()
        .map(|(name, most)| format!("{name} {most}"))
        .collect();
    if init.is_some_and(|i| i.mode == InitMode::Job) {
        total += 1;
        pods.push("init job 1".to_owned());
    }
    if total > 1 {
        let at = if cx.inputs.allocation_doc.root.at(&shared).is_some() {
            shared
        } else {
            Path::parse("storage.static")
        };
        cx.alloc_err(
            Code::ReadWriteOnceShared,
            &at,
            format!(
                "a ReadWriteOnce volume attaches to one node, and {total} pods mount it ({})",
                pods.join(", ")
            ),
            "set `shared: true`, or run one pod of what mounts it",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::config_key;

    #[test]
    fn config_keys_are_valid_configmap_keys() {
        assert_eq!(config_key("config/nginx.conf"), "config_nginx.conf");
        assert_eq!(config_key("./a b/c"), "a_b_c");
        // One `_` for each character, as the README says, not for each byte.
        assert_eq!(config_key("config/ü.conf"), "config__.conf");
    }
}
