package io.jqb.internal.setup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jqb.internal.posix.Posix;
import io.jqb.internal.wire.SockAddrDescriptor;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * {@link UnixSocket#abstractAddress(String, String)} (and the four-part form) writes {@code "\0" + name + suffix}
 * (UTF-8, padded with zeros, cut at 106 bytes) straight into the {@code sockaddr_un}, as the one-string form does,
 * and shows the same text.
 */
class AbstractAddressTest {
    /** @return sun_path of {@code a} (108 bytes) */
    private static byte[] path(UnixSocket.Address a) {
        byte[] b = new byte[SockAddrDescriptor.PATH_LENGTH];
        Posix.readBytes(a.address() + SockAddrDescriptor.PATH_OFFSET, b, 0, b.length);
        return b;
    }

    private static byte[] expected(String text) {
        byte[] u = text.getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[SockAddrDescriptor.PATH_LENGTH];
        System.arraycopy(u, 0, b, 1, Math.min(u.length, SockAddrDescriptor.MAX_ABSTRACT_NAME));
        return b;
    }

    private static void check(String name, String suffix) {
        String full = name + suffix;
        try (UnixSocket.Address two = UnixSocket.abstractAddress(name, suffix);
                UnixSocket.Address one = UnixSocket.abstractAddress(full)) {
            assertArrayEquals(expected(full), path(two), full);
            assertArrayEquals(path(one), path(two), full);
            assertEquals(SockAddrDescriptor.LENGTH, two.length());
            assertEquals(one.toString(), two.toString());
            byte[] u = full.getBytes(StandardCharsets.UTF_8);
            assertEquals("@" + new String(u, 0, Math.min(u.length, SockAddrDescriptor.MAX_ABSTRACT_NAME),
                    StandardCharsets.UTF_8), two.toString());
        }
        // The four-part form (a SOCKET server's directory, "/qb-", service, suffix), split anywhere, is the same.
        for (int cut = 0; cut <= name.length(); cut += Math.max(1, name.length() / 3)) {
            String head = name.substring(0, cut);
            String mid = name.substring(cut, (cut + name.length()) / 2);
            String tail = name.substring((cut + name.length()) / 2);
            try (UnixSocket.Address four = UnixSocket.abstractAddress(head, mid, tail, suffix);
                    UnixSocket.Address one = UnixSocket.abstractAddress(full)) {
                assertArrayEquals(path(one), path(four), full + " cut at " + cut);
                assertEquals(SockAddrDescriptor.LENGTH, four.length());
                assertEquals(one.toString(), four.toString());
            }
        }
    }

    @Test
    void asciiNamesAreWrittenAsTheOneStringForm() {
        check("/dev/shm/qb-1-2-3-abcdef/qb-svc", "-request");
        check("svc", "");
    }

    @Test
    void nonAsciiNamesAreUtf8() {
        check("/dev/shm/qb-1-2-3-abcdef/qb-sérvice-€", "-event");
        check("ascii-", "ünïcode");
    }

    @Test
    void longNamesAreCutAt106Bytes() {
        check("x".repeat(100), "-response");
        check("é".repeat(60), "-event-tx"); // cut inside a two-byte character, as a byte copy would be
    }
}
