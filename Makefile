# The two commands a newcomer runs are `make demo` and `make test`; both install what they need.

# Builds are cached outside the repository, so a fresh clone on the same machine is fast.
CACHE_DIR ?= $(or $(TLM_CACHE_DIR),$(HOME)/.cache/tlm-operator)
export CARGO_TARGET_DIR ?= $(CACHE_DIR)/target
CARGO ?= cargo

.PHONY: test lint control-plane manifests demo release bench bench-scale

## test: install the control plane if missing, lint, run every test, then a CI-sized issuance benchmark.
test: control-plane lint
	$(CARGO) test --workspace --locked
	$(CARGO) bench --locked --bench issuance -- --certs 200 --flags default --steady-secs 10

## lint: formatting, clippy with warnings as errors, CRDs in sync.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## control-plane: build etcd, kube-apiserver, kubectl and helm once into the cache.
control-plane:
	hack/install-control-plane.sh

## demo: a local control plane, tlm-sim and the operator: a certificate issued, a rogue one caught.
##       `make demo DEMO_ARGS=--keep` leaves everything running and prints the KUBECONFIG.
demo: control-plane
	$(CARGO) build --locked -p tlm-operator -p tlm-demo
	"$(CARGO_TARGET_DIR)/debug/tlm-demo" $(DEMO_ARGS)

## release: the optimised, stripped binary the container image ships.
release:
	$(CARGO) build --locked --profile dist -p tlm-operator
	@ls -l "$(CARGO_TARGET_DIR)/dist/tlm-operator"

## bench: the issuance benchmark (N=1000), CT classification, TLM client and key-generation fairness benchmarks.
bench: control-plane
	$(CARGO) bench --locked --bench issuance -- --certs 1000 --flags default --steady-secs 60
	$(CARGO) bench --locked --bench issuance -- --certs 1000 --flags tuned --steady-secs 60
	$(CARGO) bench --locked --bench ct_classify
	$(CARGO) bench --locked --bench tlm_issuance
	$(CARGO) bench --locked --bench keygen_fairness

## bench-scale: 1,000, 5,000 and 10,000 Certificates, with default and with tuned flags (about 30 min).
bench-scale: control-plane
	for n in 1000 5000 10000; do for f in default tuned; do \
		$(CARGO) bench --locked --bench issuance -- --certs $$n --flags $$f --steady-secs 30 || exit 1; \
	done; done

## manifests: regenerate crds/, the chart's CRDs and deploy/ from the Rust types and the chart.
manifests: control-plane
	$(CARGO) run --locked -- crds --output-dir crds
	$(CARGO) run --locked -- crds --output-dir charts/tlm-operator/crds
	$(CARGO) run --locked -- crds --reference > docs/crd-reference.md
	$(CARGO) run --locked -- crds > deploy/crds.yaml
	"$$(hack/install-control-plane.sh --print-bin-dir)/helm" template tlm-operator charts/tlm-operator \
		--namespace tlm-operator > deploy/tlm-operator.yaml
