//! A real control plane for tests: etcd and kube-apiserver, built from the Go module proxy by
//! `hack/install-control-plane.sh`, started on free loopback ports, torn down when the process
//! exits. Several tests share one control plane; each works in its own namespace.

mod certs;
mod control_plane;
mod kubeconfig;
mod operator;
mod paths;
mod ports;
pub use ports::free_port;
mod resources;

pub use control_plane::{ControlPlane, shared};
pub use operator::OperatorProcess;
pub use paths::{bin_dir, repo_root, require_binary};
pub use resources::{create_yaml_documents, install_crds, unique_namespace, wait_for_crd};
