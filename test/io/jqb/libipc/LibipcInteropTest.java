package io.jqb.libipc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jqb.testutil.LibipcPeer;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * jqb against the C wire peer (native/libipc-peer, plain sockets, written from the protocol document), both ways,
 * byte-exact, with the path rule: the C side finds the socket through IPC_RUNDIR, the JVM through its run
 * directory option.
 */
class LibipcInteropTest extends RunDirTest {
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 64, 4096, 32768})
    void cClientToJqbServer(int size) throws Exception {
        String name = LibipcTestDirs.name("c2j");
        try (EchoLoop loop = new EchoLoop(IpcServer.builder(name).runDirectory(dir.toString()).init())) {
            assertEquals(dir.resolve(name + "-0-0"), loop.server.path());
            LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 60_000, "bench", name, "--count", "300",
                    "--size", Integer.toString(size), "--warmup", "0");
            // libipc-peer checks every echoed byte and exits 1 at the first mismatch.
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().startsWith("size=" + size + " count=300 p50_ns="), r.output());
            assertEquals(300, loop.messages.get());
            assertEquals("CONNECTION", loop.next(10_000));
            assertEquals("MESSAGE 2 " + size, loop.next(10_000));
        }
        assertTrue(LibipcTestDirs.list(dir).isEmpty(), "socket removed at close: " + LibipcTestDirs.list(dir));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 64, 4096, 32768})
    void jqbClientToCServer(int size) {
        String name = LibipcTestDirs.name("j2c");
        try (LibipcPeer server = LibipcPeer.echoServer(dir.toString(), name);
                IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect()) {
            assertEquals(dir.resolve(name + "-0-0"), c.path());
            Random rnd = new Random(size);
            for (int i = 0; i < 200; i++) {
                byte[] payload = new byte[size];
                rnd.nextBytes(payload);
                c.write(IpcMessage.formatData(payload));
                IpcMessage m = c.read(10_000);
                assertNotNull(m, "echo " + i);
                assertEquals(IpcMessage.DATA, m.type());
                assertArrayEquals(payload, m.payloadBytes(), "echo " + i);
            }
            assertTrue(server.isAlive());
        }
    }

    @Test
    void everyTypeByteIsCarriedThroughBothWays() {
        String name = LibipcTestDirs.name("types");
        try (LibipcPeer server = LibipcPeer.echoServer(dir.toString(), name);
                IpcClient c = IpcClient.builder(name).runDirectory(dir.toString()).connect()) {
            for (int t = 1; t < 256; t++) {
                c.write((byte) t, ByteBuffer.wrap(new byte[] {(byte) t}));
                IpcMessage m = c.read(10_000);
                assertEquals((byte) t, m.type());
                assertArrayEquals(new byte[] {(byte) t}, m.payloadBytes());
            }
            // type 0 from the server is SERVER_CLOSE: read() returns it as a message of that type
            c.write(IpcMessage.formatServerClose());
            assertEquals(IpcMessage.SERVER_CLOSE, c.read(10_000).type());
        }
    }

    @Test
    void cClientWithOtherTypesToJqbServer() throws Exception {
        String name = LibipcTestDirs.name("ctype");
        try (EchoLoop loop = new EchoLoop(IpcServer.builder(name).runDirectory(dir.toString()).init())) {
            LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 60_000, "bench", name, "--count", "10",
                    "--size", "3", "--warmup", "0", "--type", "255");
            assertEquals(0, r.exit(), r.output());
            assertEquals("CONNECTION", loop.next(10_000));
            assertEquals("MESSAGE -1 3", loop.next(10_000));
        }
    }

    @Test
    void cClientFindsNoServerWhereTheRunDirectoryHasNone() {
        LibipcPeer.Result r = LibipcPeer.run(dir.toString(), 30_000, "bench", LibipcTestDirs.name("none"),
                "--count", "1");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains(dir.toString()), r.output());
    }

    @Test
    void jqbClientRefusedClearlyWhenNobodyServes() {
        String name = LibipcTestDirs.name("nobody");
        io.jqb.IpcException e = org.junit.jupiter.api.Assertions.assertThrows(io.jqb.IpcException.class,
                () -> IpcClient.builder(name).runDirectory(dir.toString()).connect());
        assertEquals("ENOENT", e.errnoName(), e.getMessage());
        assertTrue(e.getMessage().contains(name + "-0-0"), e.getMessage());
        assertTrue(Files.isDirectory(dir));
    }
}
