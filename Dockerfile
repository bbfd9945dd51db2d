# seam in a container: a release build, then a small runtime image running as a non-root user.
#   docker build -t seam:latest .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The plain release build. The profile-guided one (README, "A faster binary") serves 1.17x
# the requests on keep-alive; build it with deploy/pgo/build.sh and copy it in instead.
RUN cargo build --release --locked -p seam

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/seam /usr/local/bin/seam
USER 65532:65532
EXPOSE 8090 9464
ENTRYPOINT ["/usr/local/bin/seam"]
CMD ["run", "/etc/seam/seam.yaml"]
