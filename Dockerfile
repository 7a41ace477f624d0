# sipmetricsd container image, for running as a sidecar next to SIP worker containers that share
# its segment (an emptyDir with medium: Memory mounted at /dev/shm, or a segment file path given
# in SIPMETRICS_SEGMENT).
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSIPMETRICS_BUILD_TESTS=OFF \
      -DSIPMETRICS_BUILD_EXAMPLES=OFF \
 && cmake --build build -j"$(nproc)" \
 && strip build/sipmetricsd

FROM debian:12-slim
COPY scripts/install-deps.sh /usr/local/lib/sipmetrics/install-deps.sh
RUN /usr/local/lib/sipmetrics/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sipmetrics \
 && useradd --system --uid 10001 --gid sipmetrics --no-create-home sipmetrics
COPY --from=build /src/build/sipmetricsd /usr/local/bin/sipmetricsd
USER sipmetrics:sipmetrics
ENV SIPMETRICS_SEGMENT=sipmetrics SIPMETRICSD_LISTEN=0.0.0.0:9477
EXPOSE 9477
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:9477/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/sipmetricsd"]
