# syntax=docker/dockerfile:1
# Build stage: compile the release binary (SQLite and libpq are both built in; libpq needs
# OpenSSL's headers).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/valise

# Runtime stage: just the binary, OpenSSL and CA certificates, as an unprivileged user.
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/valise --create-home valise
COPY --from=build /src/target/release/valise /usr/local/bin/valise
USER valise
WORKDIR /var/lib/valise
# Production by default: the server refuses to start without real master keys, a signing
# secret and the payment provider's webhook secret (from the environment or *_FILE paths,
# e.g. container secrets), and never uses a development default on this public address.
ENV VALISE_ENV=production VALISE_BIND=0.0.0.0:8080 RUST_LOG=info
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/valise"]
CMD ["serve"]
