package io.jqb.stream.internal;

import static io.jqb.internal.posix.Posix.MEM;

import io.jqb.internal.posix.LibC;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * {@code struct sockaddr_in} and {@code struct sockaddr_in6} (Linux x86-64). The family is in host byte order, the
 * port and the address in network byte order (big-endian).
 *
 * <pre>
 * sockaddr_in  (16 bytes): | family u16 | port u16 BE | addr[4]                 | zero[8]      |
 *                            0            2             4                         8
 * sockaddr_in6 (28 bytes): | family u16 | port u16 BE | flowinfo u32 | addr[16] | scope_id u32 |
 *                            0            2             4              8          24
 * </pre>
 */
public final class SockAddrInDescriptor {
    /** Offset of sa_family (both). */
    public static final int FAMILY_OFFSET = 0;
    /** Offset of the port (both). */
    public static final int PORT_OFFSET = 2;
    /** sockaddr_in: offset of the IPv4 address. */
    public static final int IN_ADDR_OFFSET = 4;
    /** sockaddr_in size. */
    public static final int IN_LENGTH = 16;
    /** sockaddr_in6: offset of the IPv6 address. */
    public static final int IN6_ADDR_OFFSET = 8;
    /** sockaddr_in6: offset of the scope id. */
    public static final int IN6_SCOPE_OFFSET = 24;
    /** sockaddr_in6 size. */
    public static final int IN6_LENGTH = 28;
    /** Room for either (and for sockaddr_un's 110 bytes when a caller reads an unknown family). */
    public static final int STORAGE_LENGTH = 128;

    private SockAddrInDescriptor() {
    }

    /**
     * Writes {@code sa} at {@code address} (at least {@link #STORAGE_LENGTH} bytes, zeroed here).
     *
     * @return the addrlen to pass with it
     */
    public static int write(long address, InetSocketAddress sa) {
        MEM.setMemory(address, STORAGE_LENGTH, (byte) 0);
        InetAddress ia = sa.getAddress();
        byte[] b = ia.getAddress();
        MEM.writeShort(address + PORT_OFFSET, Short.reverseBytes((short) sa.getPort()));
        if (ia instanceof Inet4Address) {
            MEM.writeShort(address + FAMILY_OFFSET, (short) LibC.AF_INET);
            MEM.copyMemory(b, 0, address + IN_ADDR_OFFSET, 4);
            return IN_LENGTH;
        }
        MEM.writeShort(address + FAMILY_OFFSET, (short) LibC.AF_INET6);
        MEM.copyMemory(b, 0, address + IN6_ADDR_OFFSET, 16);
        MEM.writeInt(address + IN6_SCOPE_OFFSET, ((Inet6Address) ia).getScopeId());
        return IN6_LENGTH;
    }

    /** @return the family at {@code address} */
    public static int family(long address) {
        return MEM.readShort(address + FAMILY_OFFSET) & 0xffff;
    }

    /** @return the address at {@code address}, or null when it is neither AF_INET nor AF_INET6 */
    public static InetSocketAddress read(long address) {
        int family = family(address);
        int port = Short.reverseBytes(MEM.readShort(address + PORT_OFFSET)) & 0xffff;
        byte[] b;
        if (family == LibC.AF_INET) {
            b = new byte[4];
            for (int i = 0; i < 4; i++) {
                b[i] = MEM.readByte(address + IN_ADDR_OFFSET + i);
            }
        } else if (family == LibC.AF_INET6) {
            b = new byte[16];
            for (int i = 0; i < 16; i++) {
                b[i] = MEM.readByte(address + IN6_ADDR_OFFSET + i);
            }
        } else {
            return null;
        }
        try {
            // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) comes back as an Inet4Address: shown as a.b.c.d.
            return new InetSocketAddress(InetAddress.getByAddress(b), port);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    /** @return {@code "a.b.c.d:port"} or {@code "[v6]:port"} */
    public static String format(InetSocketAddress sa) {
        InetAddress ia = sa.getAddress();
        if (ia instanceof Inet6Address) {
            String h = ia.getHostAddress();
            int pct = h.indexOf('%');
            return "[" + compress(pct < 0 ? h : h.substring(0, pct)) + "]:" + sa.getPort();
        }
        return ia.getHostAddress() + ":" + sa.getPort();
    }

    /** Java prints {@code 0:0:0:0:0:0:0:1}; people (and ss, socat) write {@code ::1}. */
    static String compress(String full) {
        String[] parts = full.split(":");
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < parts.length; i++) {
            int j = i;
            while (j < parts.length && parts[j].equals("0")) {
                j++;
            }
            if (j - i > bestLen && j - i > 1) {
                bestStart = i;
                bestLen = j - i;
            }
            i = Math.max(i, j);
        }
        if (bestStart < 0) {
            return full;
        }
        String head = String.join(":", java.util.Arrays.copyOfRange(parts, 0, bestStart));
        String tail = String.join(":", java.util.Arrays.copyOfRange(parts, bestStart + bestLen, parts.length));
        return head + "::" + tail;
    }
}
