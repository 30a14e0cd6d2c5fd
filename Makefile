# jqb: libqb IPC in Java.
#   make          native peers, the jar and its runtime libraries, bin/jqb and its AppCDS archive (bin/jqb-cds)
#   make test     installs what is missing (Debian libqb-dev, gcc, ...), builds, runs every test incl. interop
#   make demo     builds, then runs jqb and native libqb against each other and prints what happened
#   make bench    JMH benchmarks (see benchmarks/README.md); JMH_ARGS="-prof gc RingBenchmark" to choose
#   make bench-compare  jqb and native libqb side by side, every pairing, the spin-vs-floor rounds, the scale curve
#                 and the cold start; writes docs/PERFORMANCE.md (tables and charts), ~10 minutes on a quiet machine
#   make bench-notify   notification broker vs D-Bus (private dbus-daemon); a section of docs/PERFORMANCE.md
#   make bench-scale    only the scale curve (1..1000 concurrent clients); its section of docs/PERFORMANCE.md
#   make bench-cold     only the cold-start comparison (launcher settings); its section of docs/PERFORMANCE.md
#   make bench-stream   the stream layer vs plain java.nio vs C sockets (TCP, pipe, TLS); its section of PERFORMANCE.md
#   make bench-libipc   libipc echo: jqb and the C wire peer, every pairing, pinned and split; its section of PERFORMANCE.md
#   make bench-ring-memory  JMH A/B of the ring's payload copies (ByteBuffer view vs PointerStore); its section of PERFORMANCE.md
#   make bench-gc JMH -prof gc of the hot paths (ring, semaphore, doorbell, in-JVM round trips): B/op; its section
#   make reliability  only the fault / hostile-input / leak suite (test/io/jqb/reliability; also part of make test)
#   make soak     that suite with soak counts (-Djqb.soak=true: 10x cycles, 20x kills, 5M mutations...); not for CI

MVN      ?= mvn
MVNFLAGS ?= -B -q
JAR      := target/jqb.jar

.PHONY: all deps native jar test demo bench bench-compare bench-stream bench-scale bench-cold bench-libipc bench-ring-memory bench-gc bench-notify \
	clean reliability soak

all: native jar

deps:
	@bash .ci/deps.sh

native: deps
	$(MAKE) -C native

jar: deps
	$(MVN) $(MVNFLAGS) -DskipTests package dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory=target/lib
	@chmod +x bin/jqb
	@bash bin/jqb-cds

test: native
	$(MVN) -B verify dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=target/lib
	@chmod +x bin/jqb
	@bash bin/jqb-cds

reliability: native
	$(MVN) -B test -Dtest='io.jqb.reliability.*Test' -Dsurefire.failIfNoSpecifiedTests=false

soak: native
	$(MVN) -B test -Djqb.soak=true -Dtest='io.jqb.reliability.*Test' -Dsurefire.failIfNoSpecifiedTests=false

demo: all
	@bash bin/demo

bench: all
	$(MVN) $(MVNFLAGS) -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test.cp \
		-Dmdep.includeScope=test
	java -cp target/test-classes:target/classes:$$(cat target/test.cp) org.openjdk.jmh.Main $(JMH_ARGS)

bench-notify: all
	@bash benchmarks/notify-compare.sh

bench-compare: all
	$(MVN) $(MVNFLAGS) -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test.cp \
		-Dmdep.includeScope=test
	@bash benchmarks/bench-compare.sh

bench-stream: all
	$(MVN) $(MVNFLAGS) -DskipTests test-compile
	@bash benchmarks/stream-compare.sh

bench-scale: all
	@bash benchmarks/scale-curve.sh

bench-cold: all
	@bash benchmarks/cold-start.sh

bench-libipc: all
	@bash benchmarks/libipc-compare.sh

bench-ring-memory: all
	$(MVN) $(MVNFLAGS) -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test.cp \
		-Dmdep.includeScope=test
	@bash benchmarks/ring-memory-ab.sh

bench-gc: all
	$(MVN) $(MVNFLAGS) -DskipTests test-compile dependency:build-classpath -Dmdep.outputFile=target/test.cp \
		-Dmdep.includeScope=test
	@bash benchmarks/jmh-gc.sh

clean:
	$(MAKE) -C native clean
	$(MVN) $(MVNFLAGS) clean

