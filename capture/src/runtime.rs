//! What container runtimes say about their containers, read from their
//! state files on this host: names, images and privilege for the
//! snapshot's container table.
//!
//! Nothing here talks to a runtime's API (a daemon may be down, or be the
//! thing under investigation); only files are read, and whatever is
//! missing or unreadable is left empty. Sources, by runtime:
//!
//! * docker: `/var/lib/docker/containers/ID/config.v2.json` (name, image)
//!   and `hostconfig.json` (privileged).
//! * podman and cri-o share containers/storage: its
//!   `overlay-containers/containers.json` lists each container's names and
//!   a metadata string with the image name.
//! * cri-o, containerd (and podman) keep each container's OCI runtime spec,
//!   `config.json`, in a state directory under `/run`; Kubernetes runtimes
//!   put the container's name and image in its annotations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use scry_format::ContainerInfo;
use serde_json::Value;

/// Where the runtimes keep their state; `/` on a real host, a scratch
/// directory in tests.
#[derive(Debug, Clone)]
pub(crate) struct Runtimes {
    root: PathBuf,
    /// containers/storage's container list, read on first use.
    storage: Option<HashMap<String, Described>>,
}

/// A container's name and image, as one source describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Described {
    name: String,
    image: String,
}

/// containers/storage's container lists: in its graph root, and in its
/// run root on hosts that keep it there.
const STORAGE_LISTS: &[&str] = &[
    "var/lib/containers/storage/overlay-containers/containers.json",
    "run/containers/storage/overlay-containers/containers.json",
];

/// Annotations naming a container, most specific first.
const NAME_ANNOTATIONS: &[&str] = &[
    "io.kubernetes.cri.container-name",
    "io.kubernetes.container.name",
    "io.kubernetes.cri-o.ContainerName",
];

/// Annotations naming a container's image.
const IMAGE_ANNOTATIONS: &[&str] = &[
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ImageName",
    "io.kubernetes.cri-o.Image",
];

impl Runtimes {
    pub(crate) fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            storage: None,
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn read_json(&self, path: &Path) -> Option<Value> {
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Fills in what the runtime's files say about container `info.id`.
    pub(crate) fn describe(&mut self, info: &mut ContainerInfo) {
        if info.runtime == "docker" {
            self.describe_docker(info);
        }
        // The other runtimes, and docker containers whose files are not
        // where docker keeps them: every source that may know, in turn,
        // each filling only what is still empty.
        let mut found = self.storage_entry(&info.id);
        if let Some(spec) = self.oci_spec(&info.id) {
            let annotated = annotations_described(&spec);
            for (slot, value) in [
                (&mut found.name, annotated.name),
                (&mut found.image, annotated.image),
            ] {
                if slot.is_empty() {
                    *slot = value;
                }
            }
        }
        if info.name.is_empty() {
            info.name = found.name;
        }
        if info.image.is_empty() {
            info.image = found.image;
        }
    }

    fn describe_docker(&self, info: &mut ContainerInfo) {
        let dir = self.path("var/lib/docker/containers").join(&info.id);
        if let Some(config) = self.read_json(&dir.join("config.v2.json")) {
            let described = docker_described(&config);
            info.name = described.name;
            info.image = described.image;
        }
        if let Some(host) = self.read_json(&dir.join("hostconfig.json")) {
            info.privileged = host.get("Privileged").and_then(Value::as_bool) == Some(true);
        }
    }

    /// containers/storage's entry for `id` (podman, cri-o).
    fn storage_entry(&mut self, id: &str) -> Described {
        if self.storage.is_none() {
            let mut all = HashMap::new();
            for list in STORAGE_LISTS {
                if let Some(Value::Array(entries)) = self.read_json(&self.path(list)) {
                    for entry in &entries {
                        if let Some((id, described)) = storage_described(entry) {
                            all.entry(id).or_insert(described);
                        }
                    }
                }
            }
            self.storage = Some(all);
        }
        self.storage
            .as_ref()
            .and_then(|all| all.get(id))
            .cloned()
            .unwrap_or_default()
    }

    /// The OCI runtime spec of container `id`, from the state directory of
    /// cri-o / podman or of containerd (any namespace: `k8s.io`, `moby`,
    /// `default`…).
    fn oci_spec(&self, id: &str) -> Option<Value> {
        let mut candidates = vec![
            self.path("run/containers/storage/overlay-containers")
                .join(id)
                .join("userdata/config.json"),
        ];
        let tasks = self.path("run/containerd/io.containerd.runtime.v2.task");
        if let Ok(namespaces) = std::fs::read_dir(tasks) {
            candidates.extend(
                namespaces
                    .flatten()
                    .map(|ns| ns.path().join(id).join("config.json")),
            );
        }
        candidates.iter().find_map(|path| self.read_json(path))
    }
}

/// Name and image from docker's `config.v2.json`. Names start with `/`;
/// the top-level "Image" is a digest, the reference the user ran is the
/// one in "Config".
fn docker_described(config: &Value) -> Described {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or("").to_owned();
    Described {
        name: text(config.get("Name")).trim_start_matches('/').to_owned(),
        image: text(config.get("Config").and_then(|c| c.get("Image"))),
    }
}

/// One entry of containers/storage's `containers.json`: its id, first
/// name, and the image name its metadata string (JSON in a string)
/// carries.
fn storage_described(entry: &Value) -> Option<(String, Described)> {
    let id = entry.get("id")?.as_str()?.to_owned();
    let metadata: Option<Value> = entry
        .get("metadata")
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok());
    let from_metadata = |key: &str| {
        metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let name = entry
        .get("names")
        .and_then(Value::as_array)
        .and_then(|names| names.first())
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| from_metadata("name"))
        .unwrap_or_default();
    let image = from_metadata("image-name").unwrap_or_default();
    Some((id, Described { name, image }))
}

/// Name and image from an OCI spec's Kubernetes annotations.
fn annotations_described(spec: &Value) -> Described {
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| {
                spec.get("annotations")?
                    .get(*key)?
                    .as_str()
                    .filter(|v| !v.is_empty())
            })
            .unwrap_or("")
            .to_owned()
    };
    Described {
        name: first(NAME_ANNOTATIONS),
        image: first(IMAGE_ANNOTATIONS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A scratch root holding runtime state files.
    struct Root(PathBuf);

    impl Root {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("scry-runtime-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Root(dir)
        }

        fn write(&self, relative: &str, text: &str) {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn describe(&self, runtime: &str) -> ContainerInfo {
            let mut info = ContainerInfo {
                id: ID.to_owned(),
                runtime: runtime.to_owned(),
                ..ContainerInfo::default()
            };
            Runtimes::at(&self.0).describe(&mut info);
            info
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn docker_metadata_yields_name_image_and_privilege() {
        let root = Root::new("docker");
        root.write(
            &format!("var/lib/docker/containers/{ID}/config.v2.json"),
            r#"{"ID":"x","Config":{"Hostname":"h","Image":"nginx:1.27","Labels":{}},"Image":"sha256:abc","MountPoints":{"/d":{"Name":"vol"}},"Name":"/web"}"#,
        );
        root.write(
            &format!("var/lib/docker/containers/{ID}/hostconfig.json"),
            r#"{"Binds":null,"Privileged":true}"#,
        );
        let info = root.describe("docker");
        assert_eq!(
            (info.name.as_str(), info.image.as_str(), info.privileged),
            ("web", "nginx:1.27", true)
        );
    }

    #[test]
    fn podman_containers_are_named_from_containers_storage() {
        let root = Root::new("podman");
        let metadata = r#"{"image-name":"docker.io/library/alpine:latest","image-id":"feed","name":"db","created-at":1700000000}"#;
        let list = serde_json::json!([
            {"id": "other", "names": ["x"], "metadata": "{}"},
            {"id": ID, "names": ["db"], "image": "feed", "metadata": metadata},
        ]);
        root.write(
            "var/lib/containers/storage/overlay-containers/containers.json",
            &list.to_string(),
        );
        let info = root.describe("podman");
        assert_eq!(info.name, "db");
        assert_eq!(info.image, "docker.io/library/alpine:latest");
        assert!(!info.privileged);
    }

    #[test]
    fn kubernetes_containers_are_named_from_their_oci_spec() {
        let root = Root::new("cri");
        root.write(
            &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"),
            r#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-name":"api","io.kubernetes.cri.image-name":"registry.local/api:2","io.kubernetes.cri.sandbox-name":"api-7d9"}}"#,
        );
        let info = root.describe("containerd");
        assert_eq!(
            (info.name.as_str(), info.image.as_str()),
            ("api", "registry.local/api:2")
        );

        let root = Root::new("crio");
        root.write(
            &format!("run/containers/storage/overlay-containers/{ID}/userdata/config.json"),
            r#"{"annotations":{"io.kubernetes.container.name":"worker","io.kubernetes.cri-o.ContainerName":"k8s_worker_pod_ns_uid_0","io.kubernetes.cri-o.ImageName":"quay.io/w:1"}}"#,
        );
        let info = root.describe("cri-o");
        assert_eq!(
            (info.name.as_str(), info.image.as_str()),
            ("worker", "quay.io/w:1")
        );
    }

    #[test]
    fn missing_or_broken_files_leave_the_fields_empty() {
        let root = Root::new("broken");
        root.write(
            "var/lib/containers/storage/overlay-containers/containers.json",
            "{not json",
        );
        let info = root.describe("podman");
        assert_eq!((info.name.as_str(), info.image.as_str()), ("", ""));
        let info = root.describe("docker");
        assert_eq!(info.runtime, "docker");
        assert!(info.name.is_empty());
    }
}
