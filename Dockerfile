# Multi-stage build of the tlm-operator image: a static-enough glibc binary on distroless,
# running as the distroless non-root user. The same binary is built locally by `make release`.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --profile dist -p tlm-operator \
 && cp target/dist/tlm-operator /tlm-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /tlm-operator /usr/local/bin/tlm-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tlm-operator"]
CMD ["run"]
