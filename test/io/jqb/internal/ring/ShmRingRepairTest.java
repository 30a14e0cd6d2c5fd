package io.jqb.internal.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.Errno;
import io.jqb.IpcException;
import io.jqb.internal.posix.Guard;
import io.jqb.internal.posix.Posix;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A ring whose files are truncated under it (what a hostile peer that owns them can do): every access to a vanished
 * page is repaired in place by libjqbguard (a private zero page, the ring's fault flag), so plain Unsafe loads and
 * compare-and-sets neither crash the JVM nor leave HotSpot an InternalError to throw later in unrelated code; the
 * ring reports the truncation synchronously at its next {@link ShmRing#checkMapped}. The polling loops run enough
 * times to be JIT-compiled; {@code -DargLine=-Xint} runs the interpreted case.
 */
class ShmRingRepairTest {
    private static final int SPINS = 200_000;

    private static void truncate(String path) throws Exception {
        try (FileChannel fc = FileChannel.open(Path.of(path), StandardOpenOption.WRITE)) {
            fc.truncate(0);
        }
    }

    @Test
    void aPollingReaderSurvivesATruncatedHeaderAndSeesTheFlag(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        ShmRing r = ShmRing.create(dir.resolve("qb-request-t").toString(), 4096, -1, -1, 0600);
        try {
            r.checkMapped();
            assertFalse(r.faulted());
            truncate(r.headerPath());
            int reported = 0;
            for (int i = 0; i < SPINS; i++) {
                try {
                    r.semaphore().tryWait();   // a plain load per spin: 0 from the repaired page, then the flag
                } catch (InternalError e) {
                    reported++;
                }
            }
            assertEquals(SPINS, reported, "every try-wait after the truncation reports it");
            assertTrue(r.faulted(), "fault flag: the repair path ran, not HotSpot's");
            assertThrows(InternalError.class, r::checkMapped);
            assertThrows(InternalError.class, () -> r.semaphore().await(1_000_000L));
            assertThrows(InternalError.class, () -> r.semaphore().post());   // a compare-and-set on the zero page
            // Nothing pending in HotSpot: safepoints and VM calls in unrelated code throw nothing.
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.yield();
            }
        } finally {
            r.close(true);
        }
    }

    @Test
    void readsAndWritesOnATruncatedDataFileThrowSynchronously(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        ShmRing r = ShmRing.create(dir.resolve("qb-response-t").toString(), 4096, -1, -1, 0600);
        try {
            ByteBuffer msg = ByteBuffer.allocateDirect(64);
            ShmRing.ChunkHandler length = (ring, offset, len) -> len;
            for (int i = 0; i < SPINS / 100; i++) {   // warm: write, read, reclaim
                assertEquals(64, r.write(msg));
                assertEquals(64, r.read(length));
            }
            assertEquals(64, r.write(msg));
            truncate(r.dataPath());
            assertThrows(InternalError.class, () -> r.read(length),
                    "zeros where the chunk was: the truncation, not EBADMSG");
            assertThrows(InternalError.class, () -> r.write(msg));
            assertTrue(r.faulted(), "fault flag: the repair path ran, not HotSpot's");
        } finally {
            r.close(true);
        }
    }

    /**
     * The data file truncated after the chunk was validated, before (or during) the reader's payload copy: the copy
     * reads zeros from the repaired pages, and copyTo reports the truncation instead of delivering them as a message.
     */
    @Test
    void aTruncationDuringThePayloadCopyIsReportedNotDelivered(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        ShmRing r = ShmRing.create(dir.resolve("qb-response-c").toString(), 4096, -1, -1, 0600);
        try {
            byte[] payload = new byte[64];
            Arrays.fill(payload, (byte) 0x5a);
            assertEquals(64, r.write(payload, 0, 64));
            ByteBuffer into = ByteBuffer.allocate(64);
            ShmRing.ChunkHandler truncateThenCopy = (ring, offset, len) -> {
                try {
                    truncate(ring.dataPath());
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                ring.copyTo(offset, into, len);
                return len;
            };
            assertThrows(InternalError.class, () -> r.read(truncateThenCopy), "zeros delivered as a message");
            assertTrue(r.faulted(), "the repair path ran (fault flag), not HotSpot's");
        } finally {
            r.close(true);
        }
    }

    /**
     * ref_count is updated with a plain locked add on a registered header (no system call): the opener's reference
     * counts as libqb's does, and giving it back after the peer truncated the header lands on the repaired zero page:
     * the JVM survives (interpreted, the add runs in VM code: see the class comment), nothing is thrown, the fault
     * flag says the page was repaired, and the truncated file stays empty.
     */
    @Test
    void theReferenceIsGivenBackOnATruncatedHeader(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        String base = dir.resolve("qb-response-ref").toString();
        ShmRing r = ShmRing.create(base, 4096, -1, -1, 0600);
        try {
            ShmRing o = ShmRing.open(base, 4096);
            try {
                assertEquals(2, r.refCount(), "creator 1 + opener 1, as libqb counts");
                o.decrementRefCount();
                assertEquals(1, r.refCount(), "the opener's reference given back");
                ShmRing again = ShmRing.open(base, 4096);
                try {
                    assertEquals(2, r.refCount());
                    truncate(r.headerPath());
                    assertFalse(again.faulted());
                    again.decrementRefCount();
                    assertTrue(again.faulted(), "the add hit the vanished page and was repaired, not left to HotSpot");
                } finally {
                    again.close(false);
                }
            } finally {
                o.close(false);
            }
        } finally {
            r.close(true);
        }
    }

    /**
     * The same on rings the guard could not register (its registry full): ref_count goes through the kernel
     * ({@code FaultSafe}), and giving the reference back on a truncated header is an EFAULT the kernel returns, not
     * a signal: no crash, no repair.
     */
    @Test
    void theReferenceIsGivenBackOnATruncatedUnregisteredHeader(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        String base = dir.resolve("qb-event-unreg").toString();
        long flag = Posix.allocate(8);
        int[] held = new int[70_000];
        int n = 0;
        try {
            for (int slot; n < held.length && (slot = Guard.register(flag, 8, flag + 4)) >= 0; n++) {
                held[n] = slot;
            }
            assertTrue(n < held.length, "the registry fills up");
            ShmRing r = ShmRing.create(base, 4096, -1, -1, 0600);
            try {
                ShmRing o = ShmRing.open(base, 4096);
                try {
                    assertEquals(2, r.refCount(), "creator 1 + opener 1 through the kernel");
                    truncate(r.headerPath());
                    o.decrementRefCount();
                    assertFalse(o.faulted(), "nothing repaired: the kernel refused the vanished page");
                } finally {
                    o.close(false);
                }
            } finally {
                r.close(true);
            }
        } finally {
            for (int i = 0; i < n; i++) {
                Guard.unregister(held[i]);
            }
            Posix.free(flag, 8);
        }
    }

    @Test
    void closeGivesTheRegistrySlotsBack(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        int before = Guard.slotsInUse();
        for (int i = 0; i < 200; i++) {
            ShmRing r = ShmRing.create(dir.resolve("qb-event-" + i).toString(), 4096, -1, -1, 0600);
            assertEquals(before + 2, Guard.slotsInUse(), "a ring registers its two mappings");
            ShmRing o = ShmRing.open(dir.resolve("qb-event-" + i).toString(), 4096);
            assertEquals(before + 4, Guard.slotsInUse(), "an opened ring registers its two mappings");
            o.close(false);
            r.close(true);
            assertEquals(before, Guard.slotsInUse(), "close gives both slots back");
        }
        // More registrations than the registry has slots (65,536), one after the other: each unregister frees one.
        long flag = Posix.allocate(8);
        try {
            for (int i = 0; i < 100_000; i++) {
                int slot = Guard.register(flag, 8, flag + 4);
                assertTrue(slot >= 0, "slot " + slot + " at registration " + i + ": slots leak");
                Guard.unregister(slot);
            }
        } finally {
            Posix.free(flag, 8);
        }
    }

    /**
     * A create that fails after the ring registered its mappings (the header path does not fit the header's path
     * field: the files could be created through their directory, but the path is longer than PATH_MAX) gives the
     * slots, the scratch memory, the mappings and the files back.
     */
    @Test
    void aCreateFailingAfterRegistrationLeaksNoSlot(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        Path deep = dir;   // a directory path of 3950 bytes: below PATH_MAX (4096)
        while (deep.toString().length() + 201 < 3900) {
            deep = deep.resolve("d".repeat(200));
        }
        int pad = 3950 - deep.toString().length() - 1;   // 50 to 250: one more name
        deep = deep.resolve("p".repeat(pad));
        Files.createDirectories(deep);
        assertEquals(3950, deep.toString().length());
        String name = "qb-request-" + "x".repeat(150);   // <base>-header: 4108 bytes
        String base = deep.resolve(name).toString();
        int before = Guard.slotsInUse();
        for (int i = 0; i < 3; i++) {
            IpcException e = assertThrows(IpcException.class, () -> ShmRing.create(base, 4096, -1, -1, 0600));
            assertEquals(Errno.ENAMETOOLONG, e.errno(), e.getMessage());
            assertEquals(before, Guard.slotsInUse(), "slots leaked by a failed create");
            try (Stream<Path> left = Files.list(deep)) {
                assertEquals(0, left.count(), "files left by a failed create");
            }
        }
    }

    /**
     * A max_msg_size whose data file, mapped twice, an int cannot address (a server may agree up to 1073741823) is
     * refused before anything is mapped or registered: EMSGSIZE, not an overflow after registration.
     */
    @Test
    void anOversizedRingIsRefusedWithEmsgsize(@TempDir Path dir) throws Exception {
        assertTrue(Guard.REPAIR, "libjqbguard not loaded (make native) or repair turned off");
        int before = Guard.slotsInUse();
        String base = dir.resolve("qb-request-big").toString();
        ShmRing small = ShmRing.create(base, 4096, -1, -1, 0600);
        try {
            for (int size : new int[] {1073741823, ShmRing.MAX_MSG_SIZE + 1, -1}) {
                IpcException o = assertThrows(IpcException.class, () -> ShmRing.open(base, size));
                assertEquals(Errno.EMSGSIZE, o.errno(), o.getMessage());
                IpcException c = assertThrows(IpcException.class,
                        () -> ShmRing.create(dir.resolve("qb-response-big").toString(), size, -1, -1, 0600));
                assertEquals(Errno.EMSGSIZE, c.errno(), c.getMessage());
            }
            assertEquals(before + 2, Guard.slotsInUse());
            assertFalse(Files.exists(dir.resolve("qb-response-big-header")));
        } finally {
            small.close(true);
        }
        assertEquals(before, Guard.slotsInUse());
    }
}
