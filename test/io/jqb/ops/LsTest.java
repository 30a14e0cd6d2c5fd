package io.jqb.ops;

import static io.jqb.ops.OpsTestSupport.connection;
import static io.jqb.ops.OpsTestSupport.scanUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.jqb.Service;
import io.jqb.TransportType;
import io.jqb.internal.wire.ChunkDescriptor;
import io.jqb.internal.wire.MessageHeaderDescriptor;
import io.jqb.testutil.NativeClient;
import io.jqb.testutil.NativeServer;
import io.jqb.testutil.NonBlockingEchoHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * {@code jqb ls} against real native libqb servers and clients and against jqb services: service, server pid,
 * each client's pid, ring sizes, and a fill that grows while a client sends without reading.
 */
class LsTest extends OpsInteropTestBase {
    private static final int PAYLOAD = 100;
    /** Ring bytes of one echo response: chunk header + response header + payload, padded to 4. */
    private static final int RESPONSE_CHUNK = 4 * ChunkDescriptor.chunkWords(
            MessageHeaderDescriptor.RESPONSE_HEADER_LENGTH + PAYLOAD);

    @Test
    void nativeServerAndClientsAreListedWithRingSizesAndAFillThatGrows() throws Exception {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        NativeClient reader = drive(name);
        NativeClient lazy = drive(name, 100_000);
        int readerSize = reader.connect();
        int lazySize = lazy.connect();

        ServiceInfo svc = scanUntil(name, "two connections", s -> s.connections().size() == 2);
        assertEquals("@" + name, svc.address());
        assertEquals(server.pid(), svc.serverPid());
        assertTrue(svc.serverCommand().contains("qbn-server"), svc.serverCommand());
        assertEquals(Transport.SHM, svc.transport());
        ConnectionInfo rc = connection(svc, reader.pid());
        ConnectionInfo lc = connection(svc, lazy.pid());
        assertTrue(rc.clientCommand().contains("qbn-client"), rc.clientCommand());
        assertTrue(rc.clientAlive());
        assertEquals(name, rc.service());
        assertEquals(server.pid(), rc.serverPid());
        assertTrue(rc.directory().startsWith("/dev/shm/qb-" + server.pid() + "-" + reader.pid() + "-"),
                rc.directory());
        for (RingInfo r : rc.rings()) {
            assertNull(r.error(), r.toString());
            assertEquals(ChunkDescriptor.dataFileSize(readerSize), r.dataBytes(), r.toString());
            assertEquals(0, r.usedBytes(), r.toString());
            assertEquals(0, r.queued(), r.toString());
            assertEquals(2, r.refCount(), "server and client hold the ring: " + r);
        }
        lc.rings().forEach(r -> assertEquals(ChunkDescriptor.dataFileSize(lazySize), r.dataBytes(), r.toString()));

        // the lazy client sends echo requests and never reads: its response ring fills, one chunk per response
        for (int i = 1; i <= 5; i++) {
            lazy.ok("send 1 " + PAYLOAD);
            int n = i;
            svc = scanUntil(name, n + " unread responses",
                    s -> connection(s, lazy.pid()).ring("response").queued() == n);
            RingInfo resp = connection(svc, lazy.pid()).ring("response");
            assertEquals((long) n * RESPONSE_CHUNK, resp.usedBytes(), resp.toString());
            assertTrue(resp.fillPercent() > 0, resp.toString());
            assertEquals(0, connection(svc, lazy.pid()).ring("request").queued(), "the server consumed them");
        }
        // the reading client's rings stay empty
        reader.echo(1000);
        assertEquals(0, connection(Discovery.scan().service(name), reader.pid()).ring("response").usedBytes());

        // the CLI shows the same, as JSON
        JsonNode js = OpsTestSupport.service(OpsTestSupport.lsJson(), name);
        assertNotNull(js, "jqb ls --json lists " + name);
        assertEquals(server.pid(), js.get("serverPid").asLong());
        assertEquals("SHM", js.get("transport").asText());
        JsonNode lazyJs = null;
        for (JsonNode c : js.get("connections")) {
            if (c.get("clientPid").asLong() == lazy.pid()) {
                lazyJs = c;
            }
        }
        assertNotNull(lazyJs, js.toString());
        assertEquals("response", lazyJs.get("rings").get(1).get("ring").asText());
        assertEquals(5, lazyJs.get("rings").get(1).get("queued").asLong());
        assertEquals(5L * RESPONSE_CHUNK, lazyJs.get("rings").get(1).get("usedBytes").asLong());
        assertEquals(ChunkDescriptor.dataFileSize(lazySize), lazyJs.get("rings").get(1).get("dataBytes").asLong());
    }

    @Test
    void jqbServiceWithANativeClient() {
        String name = serviceName();
        Service s = start(name, new NonBlockingEchoHandler());
        NativeClient nc = drive(name);
        int size = nc.connect();
        nc.ok("send 1 " + PAYLOAD);
        ServiceInfo svc = scanUntil(name, "one unread response",
                x -> x.connections().size() == 1 && x.connections().get(0).ring("response").queued() == 1);
        assertEquals(ProcessHandle.current().pid(), svc.serverPid());
        ConnectionInfo c = connection(svc, nc.pid());
        assertEquals(Transport.SHM, c.transport());
        assertEquals(ChunkDescriptor.dataFileSize(size), c.ring("request").dataBytes());
        assertEquals(RESPONSE_CHUNK, c.ring("response").usedBytes());
        assertTrue(s.isRunning());
    }

    @Test
    void socketTransportShowsQueuesFromTheControlFile() {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name, "--transport", "socket"));
        NativeClient nc = drive(name);
        nc.connect();
        nc.ok("send 1 " + PAYLOAD);
        ServiceInfo svc = scanUntil(name, "one queued response",
                x -> x.connections().size() == 1 && x.connections().get(0).ring("response").queued() == 1);
        assertEquals(Transport.SOCKET, svc.transport());
        assertEquals(server.pid(), svc.serverPid());
        ConnectionInfo c = connection(svc, nc.pid());
        assertEquals(-1, c.ring("response").dataBytes(), "no ring sizes for SOCKET");
        assertEquals(0, c.ring("request").queued());
    }

    @Test
    void aKilledServersDirectoryIsFlaggedStale() throws Exception {
        String name = serviceName();
        NativeServer server = track(NativeServer.start(name));
        NativeClient nc = drive(name);
        nc.connect();
        ConnectionInfo c = connection(scanUntil(name, "a connection", x -> x.connections().size() == 1), nc.pid());
        server.kill();
        HostSnapshot s = Discovery.scan();
        assertNull(s.service(name), "the listener went with the server");
        StaleDirectory stale = s.staleDirectories().stream().filter(d -> d.directory().equals(c.directory()))
                .findFirst().orElse(null);
        assertNotNull(stale, "stale: " + s.staleDirectories());
        assertEquals(server.pid(), stale.serverPid());
        assertEquals(nc.pid(), stale.clientPid());
        assertTrue(stale.clientAlive());
        assertEquals(name, stale.service());
        assertTrue(stale.reason().contains("gone"), stale.reason());
        nc.close(); // libqb's force close removes the six files and leaves the directory
        Files.deleteIfExists(Path.of(c.directory()));
        assertFalse(Discovery.scan().staleDirectories().stream().anyMatch(d -> d.directory().equals(c.directory())));
    }

    @Test
    void jqbSocketServiceViaCli() throws Exception {
        String name = serviceName();
        Service s = track(Service.create(name, 0, TransportType.SOCKET, new NonBlockingEchoHandler()));
        s.run();
        NativeClient nc = drive(name);
        nc.connect();
        scanUntil(name, "a connection", x -> x.connections().size() == 1);
        JsonNode js = OpsTestSupport.service(OpsTestSupport.lsJson(), name);
        assertNotNull(js);
        assertEquals("SOCKET", js.get("transport").asText());
        assertEquals(nc.pid(), js.get("connections").get(0).get("clientPid").asLong());
        assertEquals("jqb-ls/1", OpsTestSupport.lsJson().get("schema").asText());
    }

    @Test
    void filesystemModeServiceIsListedByItsPath(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // jqb's own switches (no host-wide file): filesystem mode with sockets in a private directory
        Path force = Files.createFile(tmp.resolve("force"));
        Path dir = Files.createDirectory(tmp.resolve("sockets"));
        System.setProperty("jqb.forceFilesystemSocketsFile", force.toString());
        System.setProperty("jqb.socketDir", dir.toString());
        try {
            String name = serviceName();
            start(name, new NonBlockingEchoHandler());
            io.jqb.Client c = track(io.jqb.Client.connect(name, 65536));
            ServiceInfo svc = scanUntil(name, "one connection", x -> x.connections().size() == 1);
            assertEquals(dir.resolve(name).toString(), svc.address());
            assertEquals(ProcessHandle.current().pid(), svc.serverPid());
            assertEquals(ProcessHandle.current().pid(), svc.connections().get(0).clientPid());
            assertTrue(c.bufferSize() > 0);
        } finally {
            System.clearProperty("jqb.forceFilesystemSocketsFile");
            System.clearProperty("jqb.socketDir");
        }
    }
}
