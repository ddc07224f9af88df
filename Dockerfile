# syntax=docker/dockerfile:1
# port-aws-sync: a small non-root image that runs the daemon by default.
#   docker build -t port-aws-sync .
#   docker run --rm -p 8000:8000 -e PORT_CLIENT_ID=... -e PORT_CLIENT_SECRET=... port-aws-sync
#   docker run --rm ... port-aws-sync resync          # one-shot, for a cron job

ARG RUST_VERSION=1.95

# ---- builder: dependencies first, in their own layer, so source edits rebuild only our crate
FROM rust:${RUST_VERSION}-slim-bookworm AS builder
# aws-lc-sys (TLS for the AWS SDK) compiles C; cmake is its fallback build path.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY Cargo.toml Cargo.lock ./
COPY port-emulator/Cargo.toml port-emulator/Cargo.toml
# Stub targets with the manifests' paths: this layer depends on the manifests only.
RUN mkdir -p src benches port-emulator/src/bin \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs port-emulator/src/lib.rs \
 && echo 'fn main() {}' > benches/mapping.rs \
 && echo 'fn main() {}' > benches/resync.rs \
 && echo 'fn main() {}' > port-emulator/src/bin/port-emulator.rs \
 && cargo build --release --locked -p port-aws-sync --bin port-aws-sync \
 && rm -rf src benches port-emulator/src
COPY src src
COPY benches benches
COPY port-emulator/src port-emulator/src
# The stubs' build artefacts are older than the real sources; touch makes that certain.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked -p port-aws-sync --bin port-aws-sync \
 && cp target/release/port-aws-sync /port-aws-sync

# ---- runtime: glibc, libgcc, CA certificates, a nonroot user (65532); no shell, no curl
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /port-aws-sync /usr/local/bin/port-aws-sync
# The shipped mapping and blueprints; mount a volume over either directory to replace them.
COPY mapping/ /etc/port-aws-sync/mapping/
COPY blueprints/ /etc/port-aws-sync/blueprints/
ENV MAPPING_FILE=/etc/port-aws-sync/mapping/port-app-config.yml \
    BLUEPRINTS_DIR=/etc/port-aws-sync/blueprints \
    LISTEN_ADDR=0.0.0.0:8000 \
    LOG_FORMAT=json
WORKDIR /etc/port-aws-sync
USER nonroot:nonroot
EXPOSE 8000
# distroless has no curl: the binary probes its own /health/live (port from LISTEN_ADDR).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/port-aws-sync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/port-aws-sync"]
CMD ["run"]
