# syntax=docker/dockerfile:1
# Build stage: compile the release binary (SQLite and libpq are both built in; libpq needs
# OpenSSL's headers).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the crates registry and the target directory between builds: a
# source change recompiles Valise alone, not its ~400 dependencies. The target directory is a
# cache, not a layer, so the binary is copied out of it.
RUN --mount=type=cache,id=valise-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=valise-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=valise-target,target=/src/target,sharing=locked \
    cargo build --release --locked \
    && install -D -m 0755 target/release/valise /out/valise \
    && strip /out/valise

# Runtime stage: just the binary, OpenSSL and CA certificates, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/valise --create-home valise \
    && install -d -m 0700 -o valise -g valise /var/lib/valise/data
COPY --from=build /out/valise /usr/local/bin/valise
USER valise
WORKDIR /var/lib/valise
# Production by default: the server refuses to start without real master keys, a signing
# secret and the payment provider's webhook secret (from the environment or *_FILE paths,
# e.g. container secrets), and never uses a development default on this public address.
# VALISE_DATA_DIR is where a volume belongs (docker-compose.yml mounts one): a new named
# volume takes this directory's owner and mode, so the unprivileged user can write to it.
ENV VALISE_ENV=production VALISE_BIND=0.0.0.0:8080 VALISE_DATA_DIR=/var/lib/valise/data RUST_LOG=info
EXPOSE 8080
# The image has no shell tools to speak HTTP; the binary asks its own /readyz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/valise", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/valise"]
CMD ["serve"]
