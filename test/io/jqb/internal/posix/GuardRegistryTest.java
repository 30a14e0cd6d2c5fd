package io.jqb.internal.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libjqbguard's registry of repairable ranges under concurrent register/unregister: a SIGBUS that races with an
 * unregister of its range is either repaired through a consistent slot (the flag it sets is the range's) or left to
 * the sigsetjmp guard; never a write through a stale or NULL flag (a crash of this JVM), and every slot comes back.
 */
class GuardRegistryTest {
    private static final int PAGE = 4096;
    private static final int FAULTS = 20_000;

    @Test
    void faultsRacingUnregisterAreRepairedConsistentlyOrLeftToTheGuard(@TempDir Path dir) throws Exception {
        assertTrue(Guard.AVAILABLE, "libjqbguard not loaded (make native)");
        int before = Guard.slotsInUse();
        String file = dir.resolve("vanished-" + ProcessHandle.current().pid()).toString();
        int fd = Posix.C.open(file, LibC.O_RDWR | LibC.O_CREAT | LibC.O_CLOEXEC, 0600);
        assertTrue(fd >= 0, "open " + file);
        int rw = LibC.PROT_READ | LibC.PROT_WRITE;
        long addr = Posix.C.mmap(0, PAGE, rw, LibC.MAP_SHARED, fd, 0); // the file is empty: every access faults
        assertTrue(addr != -1, "mmap");
        long flag = Posix.allocate(8);
        Posix.MEM.writeInt(flag, 0);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread churn = new Thread(() -> {
            try {
                while (!stop.get()) {
                    int slot = Guard.register(addr, PAGE, flag);
                    assertTrue(slot >= 0, "registry full");
                    Guard.unregister(slot);
                }
            } catch (Throwable t) {
                failed.set(t);
            }
        }, "guard-churn");
        int repaired = 0;
        int guarded = 0;
        churn.start();
        try {
            for (int i = 0; i < FAULTS; i++) {
                if (Guard.probe(addr, addr) == 0) {
                    // repaired: the flag of this very range was set, and the page is now a private zero page
                    assertEquals(1, Posix.MEM.readVolatileInt(flag), "probe " + i + " repaired without the flag");
                    Posix.MEM.writeInt(flag, 0);
                    repaired++;
                    long again = Posix.C.mmap(addr, PAGE, rw, LibC.MAP_SHARED | LibC.MAP_FIXED, fd, 0);
                    assertEquals(addr, again, "re-map the file over the zero page");
                } else {
                    guarded++;
                }
            }
        } finally {
            stop.set(true);
            churn.join();
            Posix.C.munmap(addr, PAGE);
            Posix.C.close(fd);
            Posix.free(flag, 8);
        }
        if (failed.get() != null) {
            throw new AssertionError("register/unregister thread", failed.get());
        }
        assertEquals(FAULTS, repaired + guarded);
        assertEquals(before, Guard.slotsInUse(), "slots given back");
    }

    @Test
    void slotsInUseCountsRegistrations() {
        assertTrue(Guard.AVAILABLE, "libjqbguard not loaded (make native)");
        long flag = Posix.allocate(8);
        try {
            int before = Guard.slotsInUse();
            int a = Guard.register(flag, 8, flag + 4);
            int b = Guard.register(flag, 8, flag + 4);
            assertEquals(before + 2, Guard.slotsInUse());
            Guard.unregister(a);
            Guard.unregister(a); // a second unregister of a free slot changes nothing
            assertEquals(before + 1, Guard.slotsInUse());
            Guard.unregister(b);
            Guard.unregister(-1);
            assertEquals(before, Guard.slotsInUse());
        } finally {
            Posix.free(flag, 8);
        }
    }
}
