package io.jqb.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/** What the benchmarks share: JVM flags for the forks, echo requests, unique names. */
final class BenchSupport {
    /*
     * Flags for every forked JVM (@Fork(jvmArgsAppend = {J1, J2, J3, J4, J5})), the same as bin/jqb's: they only
     * silence chronicle-core's start-up complaints about JDK internals.
     */
    static final String J1 = "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED";
    static final String J2 = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    static final String J3 = "--add-opens=java.base/java.nio=ALL-UNNAMED";
    static final String J4 = "--add-opens=java.base/java.lang=ALL-UNNAMED";
    static final String J5 = "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn";

    static final int ECHO = 1;
    static final int EVENT = 2;
    static final int REQUEST_HEADER = 16;
    static final int RESPONSE_HEADER = 24;

    private BenchSupport() {
    }

    /** A direct request {id, 16+n} + n payload bytes (byte i = i*31+7), position 0, limit 16+n. */
    static ByteBuffer request(int id, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(REQUEST_HEADER + n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, id).putInt(4, 0).putInt(8, REQUEST_HEADER + n).putInt(12, 0);
        for (int i = 0; i < n; i++) {
            b.put(REQUEST_HEADER + i, (byte) (i * 31 + 7));
        }
        return b;
    }

    /** A name no other process (or earlier fork) uses: the benchmark's, this pid, a counter. */
    static String uniqueName(String what) {
        return "jqb-bench-" + what + "-" + ProcessHandle.current().pid() + "-" + Long.toHexString(System.nanoTime());
    }

    /**
     * The native peers' directory: {@code -Djqb.native.dir}, else {@code native/build} under the working directory
     * ({@code make bench} runs from the repository root).
     */
    static Path nativeDir() {
        return Path.of(System.getProperty("jqb.native.dir", "native/build")).toAbsolutePath();
    }

    /** Throws unless {@code rc} is an echo of {@code n} payload bytes; keeps the check out of the hot loop's way. */
    static int expect(int rc, int n) {
        if (rc != RESPONSE_HEADER + n) {
            throw new IllegalStateException("unexpected result " + rc + ", wanted " + (RESPONSE_HEADER + n));
        }
        return rc;
    }
}
