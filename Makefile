# The two commands a newcomer runs are `make demo` and `make test`; both install what they need.

# Builds are cached outside the repository, so a fresh clone on the same machine is fast.
CACHE_DIR ?= $(or $(TLM_CACHE_DIR),$(HOME)/.cache/tlm-operator)
export CARGO_TARGET_DIR ?= $(CACHE_DIR)/target
CARGO ?= cargo

.PHONY: test lint control-plane manifests demo

## test: install the control plane if missing, then lint and run every test.
test: control-plane lint
	$(CARGO) test --workspace --locked

## lint: formatting, clippy with warnings as errors, CRDs in sync.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## control-plane: build etcd, kube-apiserver, kubectl and helm once into the cache.
control-plane:
	hack/install-control-plane.sh

## manifests: regenerate crds/, the chart's CRDs and deploy/ from the Rust types and the chart.
manifests: control-plane
	$(CARGO) run --locked -- crds --output-dir crds
	$(CARGO) run --locked -- crds --output-dir charts/tlm-operator/crds
	"$$(hack/install-control-plane.sh --print-bin-dir)/helm" template tlm-operator charts/tlm-operator \
		--namespace tlm-operator > deploy/tlm-operator.yaml
