# seam in a container: a profile-guided release build, then a small runtime image running as
# a non-root user.
#   docker build -t seam:latest .              # profile-guided (the default)
#   docker build --build-arg PGO=0 -t seam .   # the plain release build: quicker to build
#
# The profile-guided build (deploy/pgo/build.sh) compiles seam twice: once instrumented, which
# then serves real gateway traffic in this stage for a minute (deploy/pgo/train.sh: a local
# nginx as the upstream, Debian's redis-server standing in for Valkey, wrk and h2load as the
# clients), and once optimized with the profile that run wrote. It serves 1.1-1.2x the
# requests of the plain build (bench/README.md, "The profile-guided build"); the code and the
# behaviour are the same.
FROM rust:1.95-bookworm AS build
ARG PGO=1
RUN if [ "$PGO" = 1 ]; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 procps curl wrk nghttp2-client nginx redis-server \
        && rm -rf /var/lib/apt/lists/* \
        && rustup component add llvm-tools; \
    fi
WORKDIR /src
COPY . .
RUN if [ "$PGO" = 1 ]; then \
        SEAM_VALKEY_SERVER=/usr/bin/redis-server bash deploy/pgo/build.sh \
        && cp target/pgo/release/seam /seam; \
    else \
        cargo build --release --locked -p seam && cp target/release/seam /seam; \
    fi

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /seam /usr/local/bin/seam
USER 65532:65532
EXPOSE 8090 9464
ENTRYPOINT ["/usr/local/bin/seam"]
CMD ["run", "/etc/seam/seam.yaml"]
