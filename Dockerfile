# sipmetricsd container image: the metrics sidecar of SIP worker containers that share its
# segment through a memory-backed volume at /run/sipmetrics - in Kubernetes an emptyDir with
# medium: Memory (deploy/kubernetes/), with Docker a tmpfs volume (README "Container image").
#
#   docker build -t sipmetricsd .
#
# The build stage uses scripts/install-deps.sh and the CMake install target, like a host build;
# the runtime stage holds the binary, its man page and the run-time libraries only.
# tests/deploy/dockerfile_test.py runs this file's build-stage commands and checks the rest.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSIPMETRICS_BUILD_TESTS=OFF \
      -DSIPMETRICS_BUILD_EXAMPLES=OFF \
 && cmake --build build -j"$(nproc)" \
 && DESTDIR="$PWD/stage" cmake --install build --prefix /usr/local --component daemon --strip

FROM debian:12-slim
COPY scripts/install-deps.sh /usr/local/lib/sipmetrics/install-deps.sh
RUN /usr/local/lib/sipmetrics/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sipmetrics \
 && useradd --system --uid 10001 --gid sipmetrics --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sipmetrics \
 && install -d -m 2770 -o sipmetrics -g sipmetrics /run/sipmetrics
COPY --from=build /src/stage/usr/local/ /usr/local/
# Numeric, so that Kubernetes' runAsNonRoot can verify it. Containers that share the segment
# need group 10001 (Kubernetes: fsGroup 10001); the segment is created mode 0660.
USER 10001:10001
# The segment: a file on the volume shared with the SIP containers, mounted at /run/sipmetrics
# (setgid, group 10001, like the image's own directory), or a POSIX shm name such as
# `sipmetrics` with a shared /dev/shm. HEALTHCHECK probes the port of SIPMETRICSD_LISTEN.
ENV SIPMETRICS_SEGMENT=/run/sipmetrics/segment \
    SIPMETRICSD_LISTEN=0.0.0.0:9477
EXPOSE 9477
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${SIPMETRICSD_LISTEN##*:}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/sipmetricsd"]
